using System.Net;
using System.Net.Sockets;
using System.Text;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// A loopback TCP server that answers every request with one fixed HTTP/1.1 200 response and closes: just enough
/// HTTP for curl, with no framework between the test and the bytes it hashes.
/// </summary>
internal sealed class FixedHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[] _body;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FixedHttpServer(byte[] body)
    {
        _body = body;
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                await ReadRequestHeadAsync(stream);
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {_body.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(head, _stop.Token);
                await stream.WriteAsync(_body, _stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The client went away; nothing to answer.
            }
        }
    }

    /// <summary>Reads until the blank line that ends the request head (curl's GET has no body).</summary>
    private async Task ReadRequestHeadAsync(NetworkStream stream)
    {
        var seen = new List<byte>();
        var buffer = new byte[4096];
        while (seen.Count < 4 || !(seen[^4] == '\r' && seen[^3] == '\n' && seen[^2] == '\r' && seen[^1] == '\n'))
        {
            var read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                throw new IOException("the client closed before the end of its request");
            }

            seen.AddRange(buffer.AsSpan(0, read));
        }
    }
}
