using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Quic.Tests;

[Collection(StressCollection.Name)]
public class ShortLivedStreamsTests(ITestOutputHelper output)
{
    private const int Requests = 10_000;
    private const int Concurrency = 64;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(50);

    [Fact]
    public async Task Ten_thousand_short_lived_echo_streams_64_at_a_time_all_echo_intact_and_leave_no_stream_behind()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var serving = ServeEchoesAsync(server, Requests + 1, timeout.Token);
        var clock = Stopwatch.StartNew();

        // 10,000 streams is 39 times the server's stream limit (256): they can only all open if every finished
        // stream gives its slot back.
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            int request;
            while ((request = Interlocked.Increment(ref next)) < Requests)
            {
                await RoundTripAsync(client, request, timeout.Token);
            }
        })));
        clock.Stop();

        // Still healthy: one more stream works, the server's echo loops all ended cleanly, and neither side keeps a
        // stream it no longer needs.
        await RoundTripAsync(client, Requests, timeout.Token);
        await serving;
        await Eventually.ValueAsync(() => client.GetTrackedStreamCountAsync(timeout.Token), n => n == 0, TimeSpan.FromSeconds(5), "streams the client still tracks");
        await Eventually.ValueAsync(() => server.GetTrackedStreamCountAsync(timeout.Token), n => n == 0, TimeSpan.FromSeconds(5), "streams the server still tracks");
        Assert.False(client.Closed.IsCompleted, client.CloseReason);
        Assert.False(server.Closed.IsCompleted, server.CloseReason);
        output.WriteLine($"{Requests} echo streams, {Concurrency} at a time, in {clock.Elapsed.TotalSeconds:0.0} s: {Requests / clock.Elapsed.TotalSeconds:0} streams/s");
    }

    /// <summary>Opens a stream, sends a request unique to <paramref name="number"/> with FIN, and checks the echo.</summary>
    private static async Task RoundTripAsync(QuicConnection client, int number, CancellationToken cancellationToken)
    {
        // 20 to 275 bytes: the length varies with the number so that echoes of different requests cannot match.
        var request = Encoding.ASCII.GetBytes($"request {number:D5} " + new string((char)('a' + (number % 26)), number % 256));
        var stream = await client.OpenBidirectionalStreamAsync(cancellationToken);
        var reading = StreamTransfer.ReadToEndAsync(stream.Input, cancellationToken);
        await stream.WriteAsync(request, endStream: true, cancellationToken);
        var echo = await reading;
        Assert.Equal(request, echo);
    }

    /// <summary>Accepts <paramref name="count"/> streams, echoing each; completes when all echoes are done.</summary>
    private static async Task ServeEchoesAsync(QuicConnection server, int count, CancellationToken cancellationToken)
    {
        var echoes = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            echoes.Add(StreamTransfer.EchoAsync(await server.AcceptStreamAsync(cancellationToken), cancellationToken));
        }

        await Task.WhenAll(echoes);
    }
}
