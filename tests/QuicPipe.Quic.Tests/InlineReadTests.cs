using System.Buffers;
using System.Net;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// <see cref="QuicStream.UnsafePreferInlineReads"/>: a waiting read continues on the endpoint's loop thread when a
/// received batch brings bytes, and never from inside ngtcp2's callbacks (a FIN completes the input there).
/// </summary>
public class InlineReadTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_waiting_read_continues_on_the_loop_thread_only_when_asked_and_a_FIN_never_runs_it_there(bool inline)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var outgoing = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await outgoing.WriteAsync(new byte[] { 1 }, cancellationToken: timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        incoming.UnsafePreferInlineReads = inline;
        var first = await incoming.Input.ReadAsync(timeout.Token);
        incoming.Input.AdvanceTo(first.Buffer.End);

        // The read waits before the bytes are sent, so it is the publishing thread that continues it.
        var dataRead = ReadOnThreadAsync(incoming, timeout.Token);
        await Task.Delay(100, timeout.Token);
        await outgoing.WriteAsync(new byte[] { 2, 3 }, cancellationToken: timeout.Token);
        var (dataThread, data) = await dataRead;
        Assert.Equal(new byte[] { 2, 3 }, data);
        Assert.Equal(inline, IsLoopThread(dataThread));

        var finRead = ReadOnThreadAsync(incoming, timeout.Token);
        await Task.Delay(100, timeout.Token);
        await outgoing.CompleteWritesAsync(timeout.Token);
        var (finThread, rest) = await finRead;
        Assert.Empty(rest);
        Assert.False(IsLoopThread(finThread), $"the FIN's read continued on {finThread}");
    }

    private static bool IsLoopThread(string? name) => name?.StartsWith("quic ", StringComparison.Ordinal) == true;

    private static async Task<(string? Thread, byte[] Bytes)> ReadOnThreadAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        var result = await stream.Input.ReadAsync(cancellationToken);
        var thread = Thread.CurrentThread.Name;
        var bytes = result.Buffer.ToArray();
        stream.Input.AdvanceTo(result.Buffer.End);
        return (thread, bytes);
    }
}
