using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// The far end of a port search's hit on the side that opened the extra sockets: the extra socket whose NAT mapping
/// the other peer found. The QUIC connection lives on the peer's one socket, so the bridge carries its datagrams
/// across: what comes from the other peer's address goes to our socket (from the bridge's local address), what our
/// socket sends to the bridge goes out to the other peer. To the connection the bridge's local address is the
/// direct path's address. Everything else is dropped. It closes itself after <see cref="IdleTimeout"/> without a
/// datagram either way (the direct path was given up), or when disposed.
/// </summary>
internal sealed class PortBridge : IAsyncDisposable
{
    /// <summary>Longer than a direct path's timeout (2 s) plus the fallback: a live path pings every 500 ms.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly IPEndPoint _outside;
    private readonly IPEndPoint _inside;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly TimeSpan _idleTimeout;
    private long _lastActivity = Environment.TickCount64;
    private long _forwarded;
    private int _disposed;

    /// <param name="socket">The extra socket the hit came in on; the bridge owns it from now on.</param>
    /// <param name="outside">The other peer's address, as that socket saw it.</param>
    /// <param name="mainSocket">Our one socket's local address (any address: loopback is used).</param>
    /// <param name="first">The datagram that made the hit, handed on to our socket first.</param>
    /// <param name="idleTimeout">Closes after this long without a datagram; default <see cref="IdleTimeout"/>.</param>
    public PortBridge(Socket socket, IPEndPoint outside, IPEndPoint mainSocket, ReadOnlyMemory<byte> first, TimeSpan? idleTimeout = null)
    {
        _idleTimeout = idleTimeout ?? IdleTimeout;
        _socket = socket;
        _outside = outside;
        var insideAddress = mainSocket.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
            : mainSocket.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
            : mainSocket.Address;
        _inside = new IPEndPoint(insideAddress, mainSocket.Port);
        Address = new IPEndPoint(insideAddress, ((IPEndPoint)socket.LocalEndPoint!).Port);

        // The socket kept the TTL of the search's opening pings; traffic needs the default.
        socket.Ttl = 64;
        TrySend(first.Span, _inside);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Where our socket sends to reach the other peer, and where its datagrams come from.</summary>
    public IPEndPoint Address { get; }

    /// <summary>The other peer's address as our NAT's extra mapping sees it.</summary>
    public IPEndPoint Outside => _outside;

    /// <summary>Datagrams carried either way so far.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Completes when the bridge has closed (idle, or disposed).</summary>
    public Task Closed => _loop;

    /// <summary>Closes the bridge; safe to call more than once and from more than one owner (the agent, the endpoint's stop).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var buffer = new byte[65536];
        var any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var left = _idleTimeout - TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastActivity));
                idle.CancelAfter(left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1));
                SocketReceiveFromResult received;
                try
                {
                    received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, idle.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    continue; // an ICMP error for an earlier send, on some kernels; the socket still works
                }

                var from = (IPEndPoint)received.RemoteEndPoint;
                var data = buffer.AsSpan(0, received.ReceivedBytes);
                if (from.Equals(_outside))
                {
                    TrySend(data, _inside);
                }
                else if (from.Equals(_inside))
                {
                    TrySend(data, _outside);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Idle, or disposed.
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            _socket.Dispose();
        }
    }

    private void TrySend(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
            Interlocked.Increment(ref _forwarded);
            Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        }
        catch (SocketException)
        {
            // A lost datagram; QUIC and the probes resend.
        }
    }
}
