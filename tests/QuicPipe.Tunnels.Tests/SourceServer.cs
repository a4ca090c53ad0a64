using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// A loopback TCP server that sends <see cref="Total"/> bytes to each client as fast as its socket takes them, then
/// half-closes: the fast sender behind a slow consumer. <see cref="Sent"/> counts what the kernel has taken.
/// </summary>
internal sealed class SourceServer : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _sent;

    /// <param name="total">Bytes sent to each client.</param>
    /// <param name="sendBufferSize">SO_SNDBUF of the accepted sockets (they inherit it from the listener); fixing it also stops the kernel growing it.</param>
    public SourceServer(long total, int sendBufferSize)
    {
        Total = total;
        _listener.SendBufferSize = sendBufferSize;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        SendBufferSize = _listener.SendBufferSize;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    public long Total { get; }

    /// <summary>The send buffer the kernel actually gave (Linux doubles what is asked for, for its bookkeeping).</summary>
    public int SendBufferSize { get; }

    /// <summary>Bytes the accepted sockets have taken so far, all clients together.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

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

            connections.Add(SendAsync(socket));
        }

        await Task.WhenAll(connections);
    }

    private async Task SendAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                var chunk = new byte[64 * 1024];
                for (long left = Total; left > 0;)
                {
                    var sent = await socket.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)), SocketFlags.None, _stop.Token);
                    Interlocked.Add(ref _sent, sent);
                    left -= sent;
                }

                socket.Shutdown(SocketShutdown.Send);

                // Wait for the client's end, so that closing does not reset what it has still to read.
                while (await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
