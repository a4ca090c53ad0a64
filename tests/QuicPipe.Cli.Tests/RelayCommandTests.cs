using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>The <c>quicpipe relay</c> command as a user runs it: flags, files, signals, exit codes.</summary>
public sealed class RelayCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly string _routes = Path.Combine(Path.GetTempPath(), $"quicpipe-cli-routes-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_routes);

    [Fact]
    public void Help_lists_every_relay_option()
    {
        var (code, stdout, _) = RelayProcess.Run(Startup, "relay", "--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "--listen", "--routes", "--cid-length", "--threads", "--batch", "--stats-interval", "--gso", "--gro", "--xdp", "--xdp-mode" })
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_bad_routes_file_fails_fast_naming_file_and_line()
    {
        File.WriteAllLines(_routes, ["# ok", "0123456789abcdef01234567 127.0.0.1:9", "0123 127.0.0.1:9"]);

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--routes", _routes);

        Assert.Equal(2, code);
        Assert.Contains($"{_routes}:3: connection ID 0123 has 2 bytes", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--batch", "2000", "quicpipe relay: --batch must be 1 to 1024, not 2000.")]
    [InlineData("--listen", "nowhere", "quicpipe relay: --listen: 'nowhere' is not HOST:PORT")]
    public void Invalid_flags_are_refused_with_one_line(string flag, string value, string line)
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", flag, value);

        Assert.Equal(2, code);
        Assert.StartsWith(line, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_XDP_interface_is_one_clear_line_and_exit_code_2()
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--xdp", "qpnosuch0", "--stats-interval", "0");

        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("quicpipe relay:", StringComparison.Ordinal));
        Assert.StartsWith("quicpipe relay: --xdp qpnosuch0: ", line, StringComparison.Ordinal);

        // As root the interface is looked up; otherwise loading is refused before that.
        var reason = Environment.IsPrivilegedProcess ? "no such network interface" : "needs root";
        Assert.Contains(reason, line, StringComparison.Ordinal);
    }

    [Fact]
    public void XDP_mode_without_an_interface_is_refused()
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--xdp-mode", "generic");

        Assert.NotEqual(0, code);
        Assert.Contains("--xdp-mode needs --xdp IFACE", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_in_use_is_one_line_naming_it_and_exit_code_1()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", $"127.0.0.1:{port}");

        // A conflict at run time, as for a TCP server: 1, not the 2 of a bad flag.
        Assert.Equal(1, code);
        Assert.Equal($"quicpipe relay: UDP 127.0.0.1:{port} is already in use (another process holds it)", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void SIGHUP_reloads_routes_and_json_stats_count_the_forwarded_packets()
    {
        using var first = Bound();
        using var second = Bound();
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        const string cid = "2a0000000000000000000001";
        File.WriteAllLines(_routes, [$"{cid} {first.LocalEndPoint}"]);
        var port = CliTestKit.FreeUdpPort();
        using var relay = RelayProcess.Start("relay", "--listen", $"127.0.0.1:{port}", "--routes", _routes, "--threads", "1", "--stats-interval", "200ms", "--stats-format", "json");

        // "Relay running" is logged once the SIGHUP handler is in place; signalling earlier would end the process.
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        var relayEndPoint = new IPEndPoint(IPAddress.Loopback, port);
        var packet = Convert.FromHexString("41" + cid + "00112233445566778899");

        sender.SendTo(packet, relayEndPoint);
        Assert.Equal(packet, Receive(first));

        File.WriteAllLines(_routes, [$"{cid} {second.LocalEndPoint}"]);
        relay.Signal(RelayProcess.SigHup);
        Assert.True(SpinWait.SpinUntil(() => relay.Stderr.Count(l => l.Contains("Loaded 1 static route", StringComparison.Ordinal)) == 2, TimeSpan.FromSeconds(10)), relay.AllStderr);
        Assert.True(relay.WaitForStderr(l => l.EndsWith($"SIGHUP: reloaded routes file {_routes} (1 route)", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), relay.AllStderr);
        sender.SendTo(packet, relayEndPoint);
        Assert.Equal(packet, Receive(second));

        Assert.True(relay.WaitForStderr(l => l.StartsWith('{') && JsonDocument.Parse(l).RootElement.GetProperty("forwarded").GetInt64() == 2, TimeSpan.FromSeconds(10)), relay.AllStderr);
        Assert.False(relay.HasExited, "SIGHUP must not end the relay");

        // The generic host's own start-up lines say nothing about a relay and stay out of its stderr.
        Assert.DoesNotContain(relay.Stderr, l => l.Contains("Microsoft.Hosting.Lifetime", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(RelayProcess.SigTerm)]
    [InlineData(RelayProcess.SigInt)]
    public void A_relay_under_load_stops_within_a_second(int signal)
    {
        using var sink = Bound();
        const string cid = "2a0000000000000000000002";
        File.WriteAllLines(_routes, [$"{cid} {sink.LocalEndPoint}"]);
        var port = CliTestKit.FreeUdpPort();
        using var relay = RelayProcess.Start("relay", "--listen", $"127.0.0.1:{port}", "--routes", _routes, "--stats-interval", "0");
        Assert.True(relay.WaitForStderr(l => l.Contains("Loaded 1 static route", StringComparison.Ordinal), Startup), relay.AllStderr);

        // Bounded load: at most 3 seconds of datagrams, from a thread that stops by itself.
        using var stopLoad = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var load = new Thread(() =>
        {
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var packet = Convert.FromHexString("41" + cid + new string('a', 2400));
            var target = new IPEndPoint(IPAddress.Loopback, port);
            while (!stopLoad.IsCancellationRequested)
            {
                sender.SendTo(packet, target);
            }
        })
        { IsBackground = true };
        load.Start();
        sink.ReceiveTimeout = 5000;
        sink.Receive(new byte[2048]); // the relay is forwarding
        Thread.Sleep(500);

        var clock = Stopwatch.StartNew();
        relay.Signal(signal);
        var exited = relay.WaitForExit(TimeSpan.FromSeconds(5));
        var took = clock.Elapsed;
        stopLoad.Cancel();
        load.Join(TimeSpan.FromSeconds(5));

        Assert.True(exited, "the relay did not exit");
        Assert.True(took < TimeSpan.FromSeconds(1), $"the relay took {took.TotalMilliseconds:0} ms to exit");
        Assert.Equal(0, relay.ExitCode);
    }

    private static Socket Bound()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveTimeout = 5000;
        return socket;
    }

    private static byte[] Receive(Socket socket)
    {
        var buffer = new byte[2048];
        var n = socket.Receive(buffer);
        return buffer[..n];
    }
}
