using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// A TCP server on 127.0.0.1 that runs <see cref="ServeAsync"/> for each accepted connection, and on dispose stops
/// accepting, cancels the connections' token and waits for them. A connection whose peer goes away just ends.
/// </summary>
internal abstract class LoopbackServer : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    /// <param name="sendBufferSize">
    /// SO_SNDBUF of the accepted sockets (they inherit it from the listener; a set size is also one the kernel no
    /// longer grows); 0: the kernel's.
    /// </param>
    protected LoopbackServer(int sendBufferSize = 0)
    {
        if (sendBufferSize > 0)
        {
            _listener.SendBufferSize = sendBufferSize;
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1024);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        SendBufferSize = _listener.SendBufferSize;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The accepted sockets' send buffer as the kernel gave it (Linux doubles what is asked for, for its bookkeeping).</summary>
    public int SendBufferSize { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    /// <summary>Serves one connection; the socket is disposed afterwards.</summary>
    protected abstract Task ServeAsync(Socket socket, CancellationToken stopping);

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }

            connections.Add(RunAsync(socket));
        }

        await Task.WhenAll(connections);
    }

    private async Task RunAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                await ServeAsync(socket, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
