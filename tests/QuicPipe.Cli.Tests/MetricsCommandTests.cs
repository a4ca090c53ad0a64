using System.Globalization;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Cli.Internal;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>--metrics</c> as an operator uses it: a real Prometheus scraping a relay that forwards, <c>/healthz</c>, a peer
/// command's meters, and the two ways the flag can fail (a bad value, a taken port).
/// </summary>
public sealed class MetricsCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly CliScratch _scratch = new("quicpipe-metrics-");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public void Dispose()
    {
        _http.Dispose();
        _scratch.Dispose();
    }

    [Fact]
    public async Task Prometheus_scrapes_a_forwarding_relay_and_its_API_returns_what_was_forwarded()
    {
        using var sink = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        sink.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        const string cid = "2a0000000000000000000007";
        var routes = Path.Combine(_scratch.Directory, "routes.txt");
        File.WriteAllLines(routes, [$"{cid} {sink.LocalEndPoint}"]);
        var (relay, relayPort, metricsPort) = StartRelay("--routes", routes);

        const int packets = 25;
        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            var packet = Convert.FromHexString("41" + cid + "00112233445566778899");
            for (var i = 0; i < packets; i++)
            {
                sender.SendTo(packet, new IPEndPoint(IPAddress.Loopback, relayPort));
                sink.Receive(new byte[2048]); // paced by arrival: every datagram counted, none lost to a buffer
            }
        }

        using var prometheus = new PrometheusServer("quicpipe-relay", $"127.0.0.1:{metricsPort}");
        Assert.True(await prometheus.WaitReadyAsync(Startup), "prometheus did not become ready: " + prometheus.Output);
        double? forwarded = null;
        var deadline = DateTime.UtcNow + Startup;
        while (DateTime.UtcNow < deadline && forwarded is null)
        {
            forwarded = await prometheus.QueryAsync("quicpipe_relay_forwarded_total{job=\"quicpipe-relay\",otel_scope_name=\"QuicPipe.Relay.Forwarding\"}");
            await Task.Delay(250);
        }

        Assert.True(forwarded is not null, $"no forwarded-packets series in Prometheus; its output:\n{prometheus.Output}\nrelay:\n{relay.AllStderr}");
        Assert.True(forwarded > 0);
        Assert.Equal(packets, forwarded.Value);
        Assert.Equal(0, await prometheus.QueryAsync("quicpipe_relay_dropped_total{reason=\"unknown_cid\"}"));
        Assert.Equal(1, await prometheus.QueryAsync("up{job=\"quicpipe-relay\"}"));
    }

    [Fact]
    public async Task Healthz_answers_200_while_the_relay_runs_and_metrics_are_typed_counters()
    {
        var (relay, _, metricsPort) = StartRelay();

        using var health = await _http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("ok\n", await health.Content.ReadAsStringAsync());

        var metrics = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        Assert.Contains("# TYPE quicpipe_relay_forwarded_total counter", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE quicpipe_relay_routes gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("quicpipe_relay_control_sessions{otel_scope_name=\"QuicPipe.Relay.Control\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("quicpipe_quic_connections{otel_scope_name=\"QuicPipe.Quic.Endpoint\"} 0", metrics, StringComparison.Ordinal);
        Assert.False(relay.HasExited, relay.AllStderr);
    }

    [Fact]
    public async Task Healthz_answers_503_naming_the_loop_that_died()
    {
        await using var server = await FatalStageServer.StartAsync();
        var liveness = new LivenessChecks();
        liveness.Add(server);
        var address = new IPEndPoint(IPAddress.Loopback, CliTestKit.FreeTcpPort());
        await using var endpoint = await MetricsEndpoint.StartAsync(address, "test", liveness, CancellationToken.None);
        var healthz = new Uri($"http://{address}/healthz");
        using (var alive = await _http.GetAsync(healthz))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        FatalStageServer.KillLoop(server);

        Assert.True(SpinWait.SpinUntil(() => liveness.DeadLoops().Count == 1, TimeSpan.FromSeconds(5)));
        using var dead = await _http.GetAsync(healthz);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, dead.StatusCode);
        var body = await dead.Content.ReadAsStringAsync();
        Assert.Contains("udp-rx 127.0.0.1:", body, StringComparison.Ordinal);
        Assert.Contains("died: OutOfMemoryException: simulated", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_command_serves_its_peer_and_QUIC_meters()
    {
        var relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = Quicpipe("relay", "--listen", relayAddress, "--key", relayKey, "--threads", "1", "--stats-interval", "0");
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        var (bKey, _) = CliTestKit.Identity(_scratch.Directory, "b");
        var (_, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var metricsPort = CliTestKit.FreeTcpPort();
        var expose = Quicpipe("expose", "8000", "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--metrics", Port(metricsPort));
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);

        var metrics = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        Assert.Contains("quicpipe_peer_registrations_total{otel_scope_name=\"QuicPipe.Peer.Paths\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("quicpipe_tunnels_expose_streams_total{otel_scope_name=\"QuicPipe.Tunnels\",outcome=\"served\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE quicpipe_quic_received_total counter", metrics, StringComparison.Ordinal);
        using var health = await _http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("0")]
    [InlineData("70000")]
    [InlineData("::1:9100")]
    [InlineData("localhost:9100")]
    public void A_bad_metrics_value_is_exit_2_with_one_line(string value)
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--metrics", value);

        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"quicpipe relay: --metrics: '{value}' is not [BIND:]PORT (a port 1-65535, e.g. 9100, 0.0.0.0:9100 or [::1]:9100).", line);
    }

    [Fact]
    public void A_taken_metrics_port_is_exit_1_with_one_clear_line()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--stats-interval", "0", "--metrics", Port(port));

        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"quicpipe relay: --metrics 127.0.0.1:{port}: the port is in use", line);
    }

    [Fact]
    public void A_peer_command_with_a_taken_metrics_port_is_exit_1_before_it_reaches_the_relay()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "b");
        var (_, aId) = CliTestKit.Identity(_scratch.Directory, "a");

        // No relay listens there: the metrics port fails first.
        var (code, _, stderr) = RelayProcess.Run(Startup, "expose", "8000", "--allow", aId, "--relay", $"127.0.0.1:{CliTestKit.FreeUdpPort()}", "--key", key, "--metrics", $"127.0.0.1:{Port(port)}");

        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"quicpipe expose: --metrics 127.0.0.1:{port}: the port is in use", line);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private (RelayProcess Relay, int RelayPort, int MetricsPort) StartRelay(params string[] extra)
    {
        var relayPort = CliTestKit.FreeUdpPort();
        var metricsPort = CliTestKit.FreeTcpPort();
        var relay = Quicpipe(["relay", "--listen", $"127.0.0.1:{relayPort}", "--threads", "1", "--stats-interval", "0", "--metrics", Port(metricsPort), .. extra]);
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (relay, relayPort, metricsPort);
    }

    private RelayProcess Quicpipe(params string[] args) => _scratch.Own(RelayProcess.Start(args));
}
