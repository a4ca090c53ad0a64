using System.Net;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class StreamLimitTests
{
    [Fact]
    public async Task Closed_streams_give_their_slots_back_so_a_connection_outlives_its_initial_stream_limit()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var serving = Task.Run(async () =>
        {
            while (true)
            {
                var incoming = await server.AcceptStreamAsync(timeout.Token);
                _ = ReplyAsync(incoming, timeout.Token);
            }
        });

        // More streams than the 256 the peer grants up front, all at once: the opens beyond the limit wait for
        // MAX_STREAMS, which the server sends as earlier streams close.
        const int Streams = 600;
        var done = 0;
        await Task.WhenAll(Enumerable.Range(0, Streams).Select(async i =>
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            await stream.WriteAsync(BitConverter.GetBytes(i), endStream: true, timeout.Token);
            var reply = await FlowControlTests.ReadToEndAsync(stream.Input, timeout.Token);
            Assert.Equal(i, BitConverter.ToInt32(reply));
            Interlocked.Increment(ref done);
        }));

        Assert.Equal(Streams, done);
        Assert.False(serving.IsFaulted, serving.Exception?.ToString());
    }

    private static async Task ReplyAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        var request = await FlowControlTests.ReadToEndAsync(stream.Input, cancellationToken);
        await stream.WriteAsync(request, endStream: true, cancellationToken);
    }
}
