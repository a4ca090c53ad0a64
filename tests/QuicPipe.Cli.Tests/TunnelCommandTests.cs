using System.Diagnostics;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe forward</c> and <c>quicpipe expose</c> as a user runs them, on loopback: a relay process, an expose
/// process in front of a local HTTP server, a forward process, and the real curl as the client.
/// </summary>
public sealed class TunnelCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly CliScratch _scratch = new("quicpipe-tunnels-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Curl_through_forward_and_expose_gets_a_1_MiB_body_byte_exact_and_SIGTERM_ends_forward_with_0()
    {
        var body = RandomNumberGenerator.GetBytes(1024 * 1024);
        await using var server = new FixedHttpServer(body);
        var (expose, forward, localPort, aId) = StartTunnel(server.Port, server.Port);

        // Two requests: each is its own TCP connection, so its own tunnel stream on the same QUIC connection.
        for (var i = 0; i < 2; i++)
        {
            var output = Path.Combine(_scratch.Directory, $"body{i}");
            var (exitCode, stderr) = await CurlAsync(localPort, output);
            Assert.True(exitCode == 0, $"curl exit {exitCode}: {stderr}\nforward:\n{forward.AllStderr}\nexpose:\n{expose.AllStderr}");
            Assert.Equal(SHA256.HashData(body), SHA256.HashData(await File.ReadAllBytesAsync(output)));
        }

        Assert.Contains(expose.Stderr, l => l.StartsWith($"accepted {aId}", StringComparison.Ordinal));
        forward.Signal(RelayProcess.SigTerm);
        Assert.True(forward.WaitForExit(TimeSpan.FromSeconds(15)), forward.AllStderr);
        Assert.True(forward.ExitCode == 0, forward.AllStderr);
        Assert.False(expose.HasExited, "a forwarder going away must not end expose");
    }

    [Fact]
    public async Task A_port_that_is_not_exposed_fails_curl_and_the_forwarder_keeps_running()
    {
        var body = RandomNumberGenerator.GetBytes(1024);
        await using var server = new FixedHttpServer(body);
        var notExposed = CliTestKit.FreeTcpPort();
        var (expose, forward, localPort, aId) = StartTunnel(exposedPort: notExposed, targetPort: server.Port);

        var (exitCode, stderr) = await CurlAsync(localPort, Path.Combine(_scratch.Directory, "refused"));

        // 56: connection reset while receiving; 52: empty reply. Either way, no response from the real server.
        Assert.True(exitCode is 52 or 56, $"curl exit {exitCode}: {stderr}");
        Assert.True(expose.WaitForStderr(l => l == $"refused a tunnel from {aId}: NotAllowed", Startup), expose.AllStderr);
        Assert.False(forward.HasExited, "a refused tunnel must not end forward: " + forward.AllStderr);
    }

    [Fact]
    public async Task When_the_exposer_restarts_forward_keeps_its_port_and_a_curl_made_during_the_redial_gets_the_body()
    {
        var body = RandomNumberGenerator.GetBytes(64 * 1024);
        await using var server = new FixedHttpServer(body);
        var (_, relayId, relayAddress) = StartRelay();
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        RelayProcess Expose()
        {
            var expose = Quicpipe("expose", port, "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId);
            Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);
            return expose;
        }

        var first = Expose();
        var localPort = CliTestKit.FreeTcpPort();
        var forward = Quicpipe("forward", localPort.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{bId}:{port}", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId);
        var forwarding = $"forwarding 127.0.0.1:{localPort} -> {bId}:{port}";
        Assert.True(forward.WaitForStderr(l => l == forwarding, Startup), forward.AllStderr);

        first.Signal(RelayProcess.SigTerm);
        Assert.True(first.WaitForExit(TimeSpan.FromSeconds(15)), first.AllStderr);
        Assert.True(forward.WaitForStderr(l => l.StartsWith($"re-dialing {bId}", StringComparison.Ordinal), Startup), forward.AllStderr);

        // Made while nobody serves B: the port is still forward's, and the connection waits for the re-dial.
        var output = Path.Combine(_scratch.Directory, "after-redial");
        var curl = CurlAsync(localPort, output);
        var second = Expose();
        var (exitCode, stderr) = await curl;

        Assert.True(exitCode == 0, $"curl exit {exitCode}: {stderr}\nforward:\n{forward.AllStderr}\nexpose:\n{second.AllStderr}");
        Assert.Equal(body, await File.ReadAllBytesAsync(output));
        Assert.Equal(2, forward.Stderr.Count(l => l == forwarding));
    }

    [Fact]
    public void Forwarding_to_a_NodeId_the_relay_does_not_know_exits_1_naming_it()
    {
        var (_, relayId, relayAddress) = StartRelay();
        var (aKey, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var stranger = NodeIdentity.Generate().NodeId.ToString();

        var forward = Quicpipe("forward", CliTestKit.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture), $"{stranger}:80", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--timeout", "3s");

        Assert.True(forward.WaitForExit(TimeSpan.FromSeconds(20)), forward.AllStderr);
        Assert.Equal(1, forward.ExitCode);
        Assert.Contains(stranger, forward.AllStderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_exit_2()
    {
        var (exitCode, _, stderr) = RelayProcess.Run(Startup, "forward", "8080", "not-a-target", "--relay", "127.0.0.1:1", "--key", "k");

        Assert.Equal(2, exitCode);
        Assert.Contains("NODEID:PORT", stderr, StringComparison.Ordinal);
    }

    /// <summary>Relay, expose of <paramref name="exposedPort"/>, forward of a free local port to <paramref name="targetPort"/> on the exposer.</summary>
    private (RelayProcess Expose, RelayProcess Forward, int LocalPort, string AId) StartTunnel(int exposedPort, int targetPort)
    {
        var (_, relayId, relayAddress) = StartRelay();
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var port = exposedPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expose = Quicpipe("expose", port, "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId);
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);

        var localPort = CliTestKit.FreeTcpPort();
        var forward = Quicpipe("forward", localPort.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{bId}:{targetPort}", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId);
        var expected = $"forwarding 127.0.0.1:{localPort} -> {bId}:{targetPort}";
        Assert.True(forward.WaitForStderr(l => l == expected, Startup), forward.AllStderr + "\nexpose:\n" + expose.AllStderr);
        return (expose, forward, localPort, aId);
    }

    private static async Task<(int ExitCode, string Stderr)> CurlAsync(int port, string output)
    {
        var start = new ProcessStartInfo("curl")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--silent", "--show-error", "--max-time", "30", "--output", output, $"http://127.0.0.1:{port}/file" })
        {
            start.ArgumentList.Add(arg);
        }

        using var curl = Process.Start(start) ?? throw new InvalidOperationException("curl did not start (is it installed? scripts/setup.sh installs it)");
        var stderr = curl.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await curl.WaitForExitAsync(timeout.Token);
        return (curl.ExitCode, await stderr);
    }

    private (RelayProcess Relay, string RelayId, string Address) StartRelay()
    {
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = Quicpipe("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0");
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (relay, id, address);
    }

    private RelayProcess Quicpipe(params string[] args)
    {
        var process = RelayProcess.Start(args);
        _scratch.Own(process);
        return process;
    }
}
