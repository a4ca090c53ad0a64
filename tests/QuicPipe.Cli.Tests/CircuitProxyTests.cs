using System.Globalization;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe proxy</c> across relay islands (<see cref="RelayIslands"/>): a peer no listed relay knows is reached
/// through a circuit of neighbours, and <c>--no-circuit</c> makes that an "unreachable" answer. On loopback, with real
/// processes, a real HTTP server behind <c>quicpipe expose</c> and curl in front.
/// </summary>
public sealed class CircuitProxyTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ToolLimit = TimeSpan.FromSeconds(90);
    private readonly CliScratch _scratch = new("quicpipe-circuit-proxy-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Curl_through_A_s_proxies_gets_a_file_served_behind_D_byte_exact_over_one_circuit_A_B_C_D_and_no_circuit_answers_unreachable()
    {
        var lab = RelayIslands.Start(_scratch);
        var site = Directory.CreateDirectory(Path.Combine(_scratch.Directory, "site")).FullName;
        var file = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(site, "file"), file);
        var port = CliTestKit.FreeTcpPort().ToString(CultureInfo.InvariantCulture);
        using var web = LineProcess.Start(Python, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", site, port);
        Assert.True(web.WaitForStdout(l => l.StartsWith("Serving HTTP", StringComparison.Ordinal), Startup), web.AllStderr);
        var expose = Run(["expose", port, "--allow", lab.A, .. lab.DFlags]);
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);
        lab.WaitForLink("C", lab.D);
        var url = $"http://{lab.D}.quicpipe:{port}/file";

        var (proxy, httpPort, socksPort) = StartProxy(lab);
        var viaHttp = Path.Combine(_scratch.Directory, "via-http");
        var http = await CurlAsync("-p", "-x", $"http://127.0.0.1:{httpPort}", "--output", viaHttp, url);
        Assert.True(http.ExitCode == 0, $"curl exit {http.ExitCode}: {http.Stderr}\n{Logs(lab, proxy, expose)}");
        Assert.Equal(SHA256.HashData(file), SHA256.HashData(await File.ReadAllBytesAsync(viaHttp)));
        var viaSocks = Path.Combine(_scratch.Directory, "via-socks");
        var socks = await CurlAsync("--socks5-hostname", $"127.0.0.1:{socksPort}", "--output", viaSocks, url);
        Assert.True(socks.ExitCode == 0, $"curl exit {socks.ExitCode}: {socks.Stderr}\n{Logs(lab, proxy, expose)}");
        Assert.Equal(SHA256.HashData(file), SHA256.HashData(await File.ReadAllBytesAsync(viaSocks)));

        // Both requests rode one circuit, built once, and D took it as a circuit from A.
        Assert.Single(proxy.Stderr, l => lab.IsCircuitLine(l, lab.D));
        Assert.DoesNotContain(proxy.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal) && !lab.IsCircuitLine(l, lab.D));
        Assert.Single(expose.Stderr, l => l == $"accepted {lab.A} (via circuit)");
        Assert.Contains(expose.Stderr, l => lab.IsCircuitLine(l, lab.A));

        // A peer nobody has: no relay knows it and no circuit answers: the proxies' "unreachable", with the mesh's reason.
        var stranger = NodeIdentity.Generate().NodeId.ToString();
        var lost = await CurlAsync("-p", "-x", $"http://127.0.0.1:{httpPort}", "--output", Path.Combine(_scratch.Directory, "lost"), $"http://{stranger}.quicpipe:{port}/file");
        Assert.NotEqual(0, lost.ExitCode);
        Assert.Contains("502", lost.Stderr, StringComparison.Ordinal);
        var failure = Assert.Single(proxy.Stderr, l => l.StartsWith($"proxy: dial {stranger} failed: ", StringComparison.Ordinal));
        Assert.Contains("no circuit either", failure, StringComparison.Ordinal);
        Assert.Contains("unreachable", failure, StringComparison.Ordinal);

        proxy.Signal(RelayProcess.SigTerm);
        Assert.True(proxy.WaitForExit(TimeSpan.FromSeconds(15)), proxy.AllStderr);

        // The same proxy, neighbours and all, with --no-circuit: D is unreachable through both proxies.
        var (direct, directHttp, directSocks) = StartProxy(lab, "--no-circuit");
        var refused = await CurlAsync("-p", "-x", $"http://127.0.0.1:{directHttp}", "--output", Path.Combine(_scratch.Directory, "refused"), url);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("502", refused.Stderr, StringComparison.Ordinal);
        var refusedSocks = await CurlAsync("--socks5-hostname", $"127.0.0.1:{directSocks}", "--output", Path.Combine(_scratch.Directory, "refused-socks"), url);
        Assert.NotEqual(0, refusedSocks.ExitCode);
        Assert.Contains(direct.Stderr, l => l.StartsWith($"proxy: dial {lab.D} failed: ", StringComparison.Ordinal));
        Assert.Contains(direct.Stderr, l => l.StartsWith("proxy: ", StringComparison.Ordinal) && l.EndsWith($"{lab.D}.quicpipe:{port}: 502 Bad Gateway", StringComparison.Ordinal));
        Assert.Contains(direct.Stderr, l => l.StartsWith("proxy: ", StringComparison.Ordinal) && l.EndsWith("SOCKS5 reply 0x04 (PeerUnreachable)", StringComparison.Ordinal));
        Assert.DoesNotContain(direct.Stderr, l => l.Contains("circuit", StringComparison.Ordinal));
        Assert.Single(expose.Stderr, l => l.StartsWith($"accepted {lab.A}", StringComparison.Ordinal));
    }

    private static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    private static string Logs(RelayIslands lab, PeerProcess proxy, PeerProcess expose) =>
        $"proxy:\n{proxy.AllStderr}\nexpose:\n{expose.AllStderr}\nB:\n{lab.Mesh["B"].AllStderr}\nC:\n{lab.Mesh["C"].AllStderr}";

    private static Task<(int ExitCode, string Stdout, string Stderr)> CurlAsync(params string[] args) =>
        ToolProcess.RunAsync("curl", ["--silent", "--show-error", "--max-time", "60", .. args], ToolLimit);

    /// <summary>A's HTTP and SOCKS5 proxies on R1 with neighbour B; returns once both listen.</summary>
    private (PeerProcess Proxy, int HttpPort, int SocksPort) StartProxy(RelayIslands lab, params string[] flags)
    {
        var httpPort = CliTestKit.FreeTcpPort();
        var socksPort = CliTestKit.FreeTcpPort();
        var proxy = Run(["proxy", "--http", httpPort.ToString(CultureInfo.InvariantCulture), "--socks5", socksPort.ToString(CultureInfo.InvariantCulture), .. lab.AFlags, .. flags]);
        Assert.True(proxy.WaitForStderr(l => l.StartsWith("SOCKS5 proxy on", StringComparison.Ordinal), Startup), proxy.AllStderr);
        return (proxy, httpPort, socksPort);
    }

    private PeerProcess Run(params string[] args) => _scratch.Own(PeerProcess.Start(args));
}
