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
        using var transfer = BulkTransfer.Start(client, server, timeout.Token);
        Assert.True(SpinWait.SpinUntil(() => transfer.Received > 4 << 20, TimeSpan.FromSeconds(10)), "the transfer did not start");

        // Cut both ways, as a relay that stops does. The probe timer doubles at each unanswered probe, so the first
        // probe lost after 2 s of outage is followed by the next at least 2 s later.
        link.ClientToServerCut = true;
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
        await transfer.StopAsync();
    }

    /// <summary>The client writes as fast as the connection takes it; the server reads and counts.</summary>
    private sealed class BulkTransfer : IDisposable
    {
        private readonly CancellationTokenSource _stop;
        private readonly Task _writing;
        private readonly Task _reading;
        private long _received;

        private BulkTransfer(QuicConnection client, QuicConnection server, CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var token = _stop.Token;
            _writing = Task.Run(async () =>
            {
                var stream = await client.OpenBidirectionalStreamAsync(token);
                var chunk = new byte[64 * 1024];
                while (!token.IsCancellationRequested)
                {
                    await stream.WriteAsync(chunk, cancellationToken: token);
                }
            }, token);
            _reading = Task.Run(async () =>
            {
                var stream = await server.AcceptStreamAsync(token);
                while (true)
                {
                    var result = await stream.Input.ReadAsync(token);
                    Interlocked.Add(ref _received, result.Buffer.Length);
                    stream.Input.AdvanceTo(result.Buffer.End);
                }
            }, token);
        }

        public long Received => Interlocked.Read(ref _received);

        public static BulkTransfer Start(QuicConnection client, QuicConnection server, CancellationToken cancellationToken) =>
            new(client, server, cancellationToken);

        /// <summary>Stops both ends; fails if either ended for another reason than the stop.</summary>
        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            foreach (var task in new[] { _writing, _reading })
            {
                try
                {
                    await task;
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        public void Dispose() => _stop.Dispose();
    }
}
