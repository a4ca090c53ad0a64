using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using QuicPipe.Dataplane.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Quic.Tests;

[Collection(StressCollection.Name)]
public class ImpairedLinkTests(ITestOutputHelper output)
{
    private const int Streams = 4;
    private const int BytesPerStream = 4 * 1024 * 1024;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(50);

    [Fact]
    public async Task Sixteen_MiB_echoed_over_4_streams_through_5_percent_loss_and_reordering_arrives_intact_both_ways()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        using var link = new ImpairedForwarder(
            pair.Server.LocalEndPoint,
            new ImpairmentOptions { DropFraction = 0.05, ReorderFraction = 0.05, Seed = 20261130 });
        var accept = pair.Server.AcceptAsync(timeout.Token).AsTask();
        var client = await pair.Client.ConnectAsync(link.EndPoint, new QuicClientConnectionOptions { ExpectedPeer = pair.ServerIdentity.NodeId }, timeout.Token);
        var server = await accept;
        var clock = Stopwatch.StartNew();

        // The server echoes each stream: every byte crosses the impaired link once each way.
        var echoing = Task.WhenAll(Enumerable.Range(0, Streams).Select(_ => Task.Run(async () =>
            await StreamTransfer.EchoAsync(await server.AcceptStreamAsync(timeout.Token), timeout.Token))));
        var payloads = Enumerable.Range(0, Streams).Select(_ => RandomNumberGenerator.GetBytes(BytesPerStream)).ToArray();
        var echoes = await Task.WhenAll(payloads.Select(payload => Task.Run(async () =>
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            var reading = StreamTransfer.HashToEndAsync(stream.Input, timeout.Token);
            await StreamTransfer.WriteAllAsync(stream, payload, 64 * 1024, timeout.Token);
            return await reading;
        })));
        await echoing;
        clock.Stop();
        var clientStats = await client.GetStatsAsync(timeout.Token);
        var serverStats = await server.GetStatsAsync(timeout.Token);
        link.Dispose();

        for (var i = 0; i < Streams; i++)
        {
            Assert.Equal(BytesPerStream, echoes[i].Length);
            Assert.Equal(SHA256.HashData(payloads[i]), echoes[i].Sha256);
        }

        // The link really was impaired, and both ends saw it and recovered.
        Assert.InRange(link.ImpairedDrops, (long)(0.03 * link.Forwarded), (long)(0.07 * link.Forwarded));
        Assert.True(link.Reordered > 0.03 * link.Forwarded, $"only {link.Reordered} of {link.Forwarded} datagrams were reordered");
        Assert.Equal(0, link.OtherDrops);
        Assert.True(clientStats.PacketsLost > 0, "the client declared no packet lost");
        Assert.True(serverStats.PacketsLost > 0, "the server declared no packet lost");
        output.WriteLine(
            $"{Streams * BytesPerStream >> 20} MiB each way in {clock.Elapsed.TotalSeconds:0.0} s; forwarded {link.Forwarded}, " +
            $"dropped {link.ImpairedDrops}, reordered {link.Reordered}; lost (declared) client {clientStats.PacketsLost}, server {serverStats.PacketsLost}");
    }
}
