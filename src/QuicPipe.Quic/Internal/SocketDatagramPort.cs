using System.Net;
using QuicPipe.Dataplane;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A UDP socket the endpoint receives on itself: its own, or a server listener's (which then closes it). Waits in
/// ppoll, to the microsecond; wakes by sending an empty datagram to itself (an empty datagram parses as nothing and is not
/// counted as unroutable).
/// </summary>
internal sealed class SocketDatagramPort : IDatagramPort
{
    private readonly UdpBatchSocket _socket;
    private readonly bool _ownsSocket;
    private readonly PeerAddress _wakeAddress;

    public SocketDatagramPort(UdpBatchSocket socket, bool ownsSocket)
    {
        _socket = socket;
        _ownsSocket = ownsSocket;
        var local = socket.LocalAddress.ToEndPoint();
        if (local.Address.Equals(IPAddress.Any))
        {
            local.Address = IPAddress.Loopback;
        }
        else if (local.Address.Equals(IPAddress.IPv6Any))
        {
            local.Address = IPAddress.IPv6Loopback;
        }

        _wakeAddress = PeerAddress.FromEndPoint(local);
    }

    public PeerAddress LocalAddress => _socket.LocalAddress;

    /// <summary>The socket, for a handle of another thread's own (<see cref="UdpBatchSocket.DuplicateForSending"/>).</summary>
    public UdpBatchSocket Socket => _socket;

    /// <summary>False when the socket is a server listener's: the endpoint must not close or replace it.</summary>
    public bool OwnsSocket => _ownsSocket;

    public int Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait) => _socket.Receive(batch, counters, wait);

    public void Send(PacketBatch batch, DataplaneCounters counters) => _socket.Send(batch, counters);

    public void SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination) => _socket.SendTo(datagram, destination);

    public void SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit) => _socket.SendTo(datagram, destination, hopLimit);

    public void Wake()
    {
        try
        {
            _socket.SendTo([], _wakeAddress);
        }
        catch (UdpSocketException)
        {
            // The loop also wakes at its timer; a lost wake-up only delays the work.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Shutdown() => _socket.Shutdown();

    public void Dispose()
    {
        if (_ownsSocket)
        {
            _socket.Dispose();
        }
    }
}
