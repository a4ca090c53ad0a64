using QuicPipe.Dataplane;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Where a <see cref="QuicEndpoint"/>'s datagrams come from and go to: its own UDP socket, or a socket another
/// component receives from and hands datagrams over (<see cref="QuicSharedSocket"/>). The loop thread calls
/// Receive and Send; Wake and Shutdown come from any thread.
/// </summary>
internal interface IDatagramPort : IDisposable
{
    /// <summary>The local address the connections' paths are bound to.</summary>
    PeerAddress LocalAddress { get; }

    /// <summary>Fills <paramref name="batch"/>; waits at most <paramref name="wait"/> for a first datagram; 0 if none.</summary>
    int Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait);

    /// <summary>Sends every Forward slot of <paramref name="batch"/>.</summary>
    void Send(PacketBatch batch, DataplaneCounters counters);

    /// <summary>Sends one datagram. Throws <see cref="UdpSocketException"/> if the kernel refuses it.</summary>
    void SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination);

    /// <summary>Sends one datagram with its own IP TTL (hop limit). Throws <see cref="UdpSocketException"/> if the kernel refuses it.</summary>
    void SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit);

    /// <summary>Makes a Receive that is waiting return soon, so the loop runs queued work.</summary>
    void Wake();

    /// <summary>Makes every Receive return at once from now on.</summary>
    void Shutdown();
}
