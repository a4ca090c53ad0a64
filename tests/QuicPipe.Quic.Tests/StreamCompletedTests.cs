using System.Net;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>QuicStream.Completed: both directions finished and acknowledged, or the connection ended first.</summary>
public class StreamCompletedTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Completed_waits_for_both_FINs_and_fails_if_the_connection_ends_first()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        var outgoing = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await outgoing.WriteAsync(new byte[100_000], endStream: true, timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        await DrainAsync(incoming, timeout.Token);

        // Our FIN is out and read, but the peer has not finished its side: not complete yet.
        await Task.Delay(200, timeout.Token);
        Assert.False(outgoing.Completed.IsCompleted);

        await incoming.CompleteWritesAsync(timeout.Token);
        await DrainAsync(outgoing, timeout.Token);
        await outgoing.Completed.WaitAsync(timeout.Token);
        await incoming.Completed.WaitAsync(timeout.Token);

        var unfinished = await client.OpenBidirectionalStreamAsync(timeout.Token);
        await unfinished.WriteAsync(new byte[10], cancellationToken: timeout.Token);
        await client.CloseAsync(0, timeout.Token);
        await Assert.ThrowsAsync<QuicConnectionException>(() => unfinished.Completed.WaitAsync(timeout.Token));
    }

    private static async Task DrainAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken);
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }
}
