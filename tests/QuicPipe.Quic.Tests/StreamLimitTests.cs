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
            var reply = await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token);
            Assert.Equal(i, BitConverter.ToInt32(reply));
            Interlocked.Increment(ref done);
        }));

        Assert.Equal(Streams, done);
        Assert.False(serving.IsFaulted, serving.Exception?.ToString());
    }

    [Fact]
    public async Task Streams_the_application_has_not_accepted_keep_their_slots_so_the_accept_queue_stays_bounded()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        // A peer that opens streams, ends them and stops our side (STOP_SENDING), over and over, while nobody
        // accepts: each stream closes at the transport level, but its slot only returns once accepted.
        const int Streams = 300;
        var opened = 0;
        var opening = Task.WhenAll(Enumerable.Range(0, Streams).Select(async _ =>
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            Interlocked.Increment(ref opened);
            await stream.WriteAsync(new byte[1], endStream: true, timeout.Token);
            await stream.AbortAsync(3, QuicAbortDirection.Read, timeout.Token);
        }));

        await Eventually.ValueAsync(() => Task.FromResult(Volatile.Read(ref opened)), n => n == 256, TimeSpan.FromSeconds(10), "opened streams");
        await Task.Delay(500, timeout.Token);
        Assert.Equal(256, Volatile.Read(ref opened));

        // Accepting frees the slots of the closed streams: the waiting opens go through.
        for (var i = 0; i < Streams; i++)
        {
            _ = await server.AcceptStreamAsync(timeout.Token);
        }

        await opening;
        Assert.Equal(Streams, opened);
    }

    private static async Task ReplyAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        var request = await StreamTransfer.ReadToEndAsync(stream.Input, cancellationToken);
        await stream.WriteAsync(request, endStream: true, cancellationToken);
    }
}
