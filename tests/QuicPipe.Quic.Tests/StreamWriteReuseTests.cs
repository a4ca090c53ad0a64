using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// A stream reuses one write object for its writes (issue 3): writes issued together, and writes after a cancelled
/// one, must still arrive whole and in order.
/// </summary>
public class StreamWriteReuseTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Writes_issued_together_without_awaiting_each_arrive_in_order()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var pieces = Enumerable.Range(0, 200).Select(_ => RandomNumberGenerator.GetBytes(3000)).ToArray();

        // Only the first can take the stream's spare write; the others bring their own.
        var writes = pieces.Select(p => stream.WriteAsync(p, cancellationToken: timeout.Token).AsTask()).ToList();
        writes.Add(stream.CompleteWritesAsync(timeout.Token).AsTask());
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await Task.WhenAll(writes);

        Assert.Equal(pieces.SelectMany(p => p).ToArray(), received);
    }

    [Fact]
    public async Task A_write_cancelled_while_it_waits_for_the_peer_leaves_later_writes_intact()
    {
        using var timeout = new CancellationTokenSource(Limit);
        const int Window = 16 * 1024;
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => (o.StreamReceiveWindow, o.MaxStreamReceiveWindow) = (Window, Window));
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);

        // Larger than the window and the reader does not read: the write waits, then is cancelled.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var blocked = new byte[4 * 1024 * 1024];
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.WriteAsync(blocked, cancellationToken: cancel.Token).AsTask());

        // Later writes, one after another (each may reuse the stream's spare write): all of them arrive after the
        // cancelled write's prefix.
        var tail = RandomNumberGenerator.GetBytes(64 * 1024);
        var writing = Task.Run(
            async () =>
            {
                for (var offset = 0; offset < tail.Length; offset += 4096)
                {
                    await stream.WriteAsync(tail.AsMemory(offset, 4096), cancellationToken: timeout.Token);
                }

                await stream.CompleteWritesAsync(timeout.Token);
            },
            timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.InRange(received.Length, tail.Length, tail.Length + blocked.Length - 1);
        Assert.Equal(tail, received[^tail.Length..]);
    }
}
