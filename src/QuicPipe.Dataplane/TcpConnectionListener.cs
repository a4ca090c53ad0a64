using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Internal;

namespace QuicPipe.Dataplane;

/// <summary>
/// A TCP listen socket and its accept loop, as the server's TCP listeners and the standalone tunnels and proxies use
/// it: listens, accepts, and runs one handler per client connection, at most <c>maxConnections</c> at once. At the limit it stops accepting, so further clients wait in the kernel's backlog
/// instead of costing us a task and buffers each. Disposing stops accepting, cancels the handlers' token and waits
/// for them. It also stops while descriptors run short (<see cref="DescriptorHeadroom"/>), so the runtime keeps some.
/// </summary>
public sealed class TcpConnectionListener : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, CancellationToken, Task> _handle;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Task> _handlers = new();
    private readonly Task _acceptLoop;
    private long _nextHandler;
    private long _accepted;

    /// <summary>
    /// Binds and listens on <paramref name="listen"/> and starts accepting; <paramref name="handle"/> serves each
    /// client (on a pool thread) until it returns, and the socket is disposed after it. Throws
    /// <see cref="SocketException"/> if the address cannot be bound, leaving nothing open.
    /// </summary>
    public TcpConnectionListener(IPEndPoint listen, int backlog, int maxConnections, Func<Socket, CancellationToken, Task> handle)
    {
        _handle = handle;
        _slots = new SemaphoreSlim(maxConnections, maxConnections);
        _listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(listen);
            _listener.Listen(backlog);
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            _slots.Dispose();

            // The runtime's message is the bare error text ("Address already in use"): name the address.
            throw new SocketException((int)e.SocketErrorCode, e.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? $"TCP {listen} is already in use (another process holds it)"
                : $"cannot listen on TCP {listen}: {e.Message}");
        }
        catch
        {
            _listener.Dispose();
            _slots.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Client connections accepted so far.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Client connections being served now.</summary>
    public int Active => _handlers.Count;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_handlers.Values).ConfigureAwait(false);
        _stop.Dispose();
        _slots.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
                try
                {
                    client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
                }
                catch
                {
                    _slots.Release();
                    throw;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection that died in the backlog, or descriptors exhausted: keep listening.
                await AcceptFailure.PauseAsync(e, _stop.Token).ConfigureAwait(false);
                continue;
            }

            Interlocked.Increment(ref _accepted);

            // Read before the handler can close the client: the accepted descriptor's number bounds what is left.
            var descriptorsLow = DescriptorHeadroom.IsLowAfter(client);
            var id = Interlocked.Increment(ref _nextHandler);

            // The handler removes itself from _handlers when done: it must not start before it is in there.
            var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _handlers[id] = Task.Run(async () =>
            {
                await registered.Task.ConfigureAwait(false);
                try
                {
                    await _handle(client, _stop.Token).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A handler's failure ends its client (with a reset, so it sees a refusal), never the accept loop.
                catch (Exception)
#pragma warning restore CA1031
                {
                    Reset(client);
                }
                finally
                {
                    client.Dispose();
                    _handlers.TryRemove(id, out _);
                    _slots.Release();
                }
            });
            registered.SetResult();

            if (descriptorsLow)
            {
                // Stop before the last descriptors go to clients and the runtime has none left (see DescriptorHeadroom).
                await AcceptFailure.WaitForDescriptorsAsync(_stop.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Closes with RST rather than FIN: the client sees a refusal, not a clean end of data.</summary>
    public static void Reset(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }
}
