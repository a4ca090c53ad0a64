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
    private SocketFeeds? _feeds;

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

    public int Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait)
    {
        if (_feeds is not { Count: > 0 } feeds)
        {
            return _socket.Receive(batch, counters, wait);
        }

        // With socket feeds the wait is the epoll set's, which covers this socket too; taking what is queued
        // first keeps a busy endpoint at one receive per batch, plus a zero-timeout look at the feeds.
        var received = _socket.Receive(batch, counters, TimeSpan.Zero);
        var datagramsWaiting = feeds.Wait(received > 0 ? TimeSpan.Zero : wait);
        if (received == 0 && datagramsWaiting)
        {
            received = _socket.Receive(batch, counters, TimeSpan.Zero);
        }

        return received;
    }

    /// <summary>Loop thread: from now on waits in <paramref name="feeds"/>' epoll set while it holds any feed.</summary>
    public void UseFeeds(SocketFeeds feeds)
    {
        feeds.UseDatagramSocket(_socket);
        _feeds = feeds;
    }

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
