using System.Diagnostics;
using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Relay.Control;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>
/// The registry's maintenance (window moves, sweeps) runs once per control service, not once per endpoint the
/// service serves: a relay listening on IPv4 and IPv6 has two control endpoints and one upkeep.
/// </summary>
public class RelayControlMaintenanceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_relay_with_an_IPv4_and_an_IPv6_listener_runs_one_maintenance_loop()
    {
        var options = new RelayServerOptions
        {
            Threads = 1,
            Control = new RelayControlOptions { RouteUseInterval = Interval, SweepInterval = TimeSpan.FromMilliseconds(100) },
        };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)));
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        using var relay = new RelayServer(options);
        relay.Start();
        Assert.Equal(2, relay.LocalAddresses.Count);

        var (passes, elapsed) = await CountPassesAsync(relay.Control);

        AssertOneLoop(relay.Control, passes, elapsed);
    }

    [Fact]
    public async Task A_service_serving_two_endpoints_runs_one_maintenance_loop_and_stops_it_with_the_last()
    {
        var registry = new CidRegistry(new CidTable(1024));
        var service = new RelayControlService(registry, new RelayControlOptions { RouteUseInterval = Interval }, logger: null);
        var identity = Quic.NodeIdentity.Generate();
        Quic.QuicEndpoint Bind() => Quic.QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new Quic.QuicEndpointOptions
        {
            Identity = identity,
            AcceptIncoming = true,
            AllowAnyClient = true,
            ServerAlpn = Protocol.RelayProtocol.Alpn,
        });
        await using var first = Bind();
        await using var second = Bind();
        using var stopFirst = new CancellationTokenSource();
        using var stopSecond = new CancellationTokenSource();
        var runFirst = service.RunAsync(first, stopFirst.Token);
        var runSecond = service.RunAsync(second, stopSecond.Token);

        var (passes, elapsed) = await CountPassesAsync(service);
        AssertOneLoop(service, passes, elapsed);

        // One endpoint stops: the upkeep goes on for the other.
        await stopFirst.CancelAsync();
        await runFirst.WaitAsync(TimeSpan.FromSeconds(10));
        var before = service.MaintenancePasses;
        await Task.Delay(Interval * 10);
        Assert.True(service.MaintenancePasses > before, "maintenance stopped with the first of two endpoints");

        // The last one stops: so does the upkeep.
        await stopSecond.CancelAsync();
        await runSecond.WaitAsync(TimeSpan.FromSeconds(10));
        var after = service.MaintenancePasses;
        await Task.Delay(Interval * 10);
        Assert.Equal(after, service.MaintenancePasses);
        Assert.Equal(1, service.MaxConcurrentMaintenanceLoops);
    }

    private static async Task<(long Passes, TimeSpan Elapsed)> CountPassesAsync(RelayControlService service)
    {
        // Past the first tick, so that the count covers whole intervals of every loop there is.
        var deadline = Stopwatch.StartNew();
        while (service.MaintenancePasses == 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(5);
        }

        var start = service.MaintenancePasses;
        var clock = Stopwatch.StartNew();
        await Task.Delay(Window);
        return (service.MaintenancePasses - start, clock.Elapsed);
    }

    private void AssertOneLoop(RelayControlService service, long passes, TimeSpan elapsed)
    {
        // A PeriodicTimer never catches up on missed ticks: one loop runs at most one pass per interval (a late
        // machine only makes it fewer). Two loops would make up to twice as many, and two would run at once.
        var most = elapsed / Interval;
        output.WriteLine($"{passes} maintenance passes in {elapsed.TotalMilliseconds:F0} ms ({most:F0} intervals of {Interval.TotalMilliseconds} ms); at most {service.MaxConcurrentMaintenanceLoops} loop(s) at once");
        Assert.True(passes >= 1, "no maintenance pass ran");
        Assert.True(passes <= most * 1.25 + 2, $"{passes} maintenance passes in {most:F0} intervals: more than one loop runs");
        Assert.Equal(1, service.MaxConcurrentMaintenanceLoops);
    }
}
