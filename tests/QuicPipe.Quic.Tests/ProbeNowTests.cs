using System.Diagnostics;
using System.Net;
using QuicPipe.Dataplane.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Quic.Tests;

public class ProbeNowTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task After_an_outage_ProbeNow_sends_the_probe_at_once_and_the_transfer_resumes_instead_of_waiting_for_the_backed_off_timer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        using var link = new ImpairedForwarder(pair.Server.LocalEndPoint, new ImpairmentOptions());
        var (client, server) = await pair.ConnectThroughAsync(link.EndPoint, timeout.Token);
        var (transfer, completion) = WatchedTransfer.Start(client, server, 64 << 20, timeout.Token);
        await transfer.ReceivedAtLeastAsync(4 << 20, timeout.Token);

        // Cut both ways, as a relay that stops does. Towards the server first, until a packet of the client's is lost:
        // then it has data in flight that will never be acknowledged, so its probe timer runs (a client stalled by
        // flow control with everything acknowledged would have nothing to probe). The probe timer doubles at each
        // unanswered probe, so the first probe lost after 2 s of outage is followed by the next at least 2 s later.
        link.ClientToServerCut = true;
        var sent = link.LostFromClient;
        Assert.True(SpinWait.SpinUntil(() => link.LostFromClient > sent, TimeSpan.FromSeconds(10)), "the client sent nothing once cut off");
        link.ServerToClientCut = true;
        await Task.Delay(TimeSpan.FromSeconds(2), timeout.Token);
        var lost = link.LostFromClient;
        Assert.True(SpinWait.SpinUntil(() => link.LostFromClient > lost, TimeSpan.FromSeconds(10)), "the client sent no probe after 2 s of outage");

        // Back towards the server only, so nothing from the server can wake the client: whatever the client sends now,
        // it sends because it was asked to.
        link.ClientToServerCut = false;
        var forwarded = link.ForwardedFromClient;
        var clock = Stopwatch.StartNew();
        client.ProbeNow();
        Assert.True(SpinWait.SpinUntil(() => link.ForwardedFromClient > forwarded, TimeSpan.FromSeconds(10)), "the client sent nothing");
        var probed = clock.Elapsed;

        // Back both ways: asked again (that probe, too, went unanswered), the client resumes at once.
        link.ServerToClientCut = false;
        var received = transfer.Received;
        clock.Restart();
        client.ProbeNow();
        Assert.True(SpinWait.SpinUntil(() => transfer.Received > received + (1 << 20), TimeSpan.FromSeconds(10)), "the transfer did not resume");
        var resumed = clock.Elapsed;
        output.WriteLine($"probe sent {probed.TotalMilliseconds:0} ms after ProbeNow; 1 MiB more arrived {resumed.TotalMilliseconds:0} ms after the second");

        Assert.True(probed < TimeSpan.FromMilliseconds(500), $"the probe left {probed.TotalMilliseconds:0} ms after ProbeNow");
        Assert.True(resumed < TimeSpan.FromSeconds(1), $"the transfer resumed {resumed.TotalMilliseconds:0} ms after ProbeNow");
        await completion;
        Assert.Equal(transfer.SentHash, transfer.ReceivedHash);
    }
}
