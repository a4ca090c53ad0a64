using System.Net.Sockets;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// A loopback TCP server that sends <see cref="Total"/> bytes to each client as fast as its socket takes them, then
/// half-closes: the fast sender behind a slow consumer. <see cref="Sent"/> counts what the kernel has taken.
/// </summary>
/// <param name="total">Bytes sent to each client.</param>
/// <param name="sendBufferSize">SO_SNDBUF of the accepted sockets, so that the kernel's share of the bytes held is known.</param>
internal sealed class SourceServer(long total, int sendBufferSize) : LoopbackServer(sendBufferSize)
{
    private long _sent;

    public long Total { get; } = total;

    /// <summary>Bytes the accepted sockets have taken so far, all clients together.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    protected override async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        var chunk = new byte[64 * 1024];
        for (var left = Total; left > 0;)
        {
            var sent = await socket.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)), SocketFlags.None, stopping);
            Interlocked.Add(ref _sent, sent);
            left -= sent;
        }

        socket.Shutdown(SocketShutdown.Send);

        // Wait for the client's end, so that closing does not reset what it has still to read.
        while (await socket.ReceiveAsync(chunk, SocketFlags.None, stopping) > 0)
        {
        }
    }
}
