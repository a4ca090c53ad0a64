using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe proxy</c> as a user runs it, on loopback: a relay process, an expose process in front of local servers
/// that know nothing of any proxy, a proxy process, and real clients (curl, python gRPC, iperf3) in front.
/// </summary>
public sealed class ProxyCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ToolLimit = TimeSpan.FromSeconds(60);
    private readonly CliScratch _scratch = new("quicpipe-proxy-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Curl_through_the_HTTP_CONNECT_and_the_SOCKS5_proxy_gets_the_body_byte_exact_over_one_peer_connection_and_SIGTERM_exits_0()
    {
        var body = RandomNumberGenerator.GetBytes(256 * 1024);
        await using var server = new FixedHttpServer(body);
        var lab = StartProxy([server.Port]);
        var url = $"http://{lab.BId}.quicpipe:{server.Port}/file";

        var viaHttp = Path.Combine(_scratch.Directory, "http");
        var http = await CurlAsync("-p", "-x", $"http://127.0.0.1:{lab.HttpPort}", "--output", viaHttp, url);
        Assert.True(http.ExitCode == 0, $"curl exit {http.ExitCode}: {http.Stderr}\n{lab.Logs()}");
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(await File.ReadAllBytesAsync(viaHttp)));

        var viaSocks = Path.Combine(_scratch.Directory, "socks");
        var socks = await CurlAsync("--socks5-hostname", $"127.0.0.1:{lab.SocksPort}", "--output", viaSocks, url);
        Assert.True(socks.ExitCode == 0, $"curl exit {socks.ExitCode}: {socks.Stderr}\n{lab.Logs()}");
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(await File.ReadAllBytesAsync(viaSocks)));

        // Both requests rode one dialed connection: expose accepted the proxy once.
        Assert.Single(lab.Expose.Stderr, l => l.StartsWith($"accepted {lab.AId}", StringComparison.Ordinal));

        lab.Proxy.Signal(RelayProcess.SigTerm);
        Assert.True(lab.Proxy.WaitForExit(TimeSpan.FromSeconds(15)), lab.Proxy.AllStderr);
        Assert.True(lab.Proxy.ExitCode == 0, lab.Proxy.AllStderr);
        Assert.False(lab.Expose.HasExited, "a proxy going away must not end expose");
    }

    [Fact]
    public async Task With_proxy_user_HTTP_answers_407_without_credentials_and_both_proxies_serve_with_the_right_ones()
    {
        var body = RandomNumberGenerator.GetBytes(4096);
        await using var server = new FixedHttpServer(body);
        var lab = StartProxy([server.Port], "--proxy-user", "alice:s3cr:et");
        var url = $"http://{lab.BId}.quicpipe:{server.Port}/file";
        var proxy = $"http://127.0.0.1:{lab.HttpPort}";

        var none = await CurlAsync("-p", "-x", proxy, "--output", Path.Combine(_scratch.Directory, "none"), url);
        Assert.NotEqual(0, none.ExitCode);
        Assert.Contains("407", none.Stderr, StringComparison.Ordinal);

        var output = Path.Combine(_scratch.Directory, "auth");
        var http = await CurlAsync("-p", "-x", proxy, "--proxy-user", "alice:s3cr:et", "--output", output, url);
        Assert.True(http.ExitCode == 0, $"curl exit {http.ExitCode}: {http.Stderr}\n{lab.Logs()}");
        Assert.Equal(body, await File.ReadAllBytesAsync(output));

        var socksOutput = Path.Combine(_scratch.Directory, "socks-auth");
        var socks = await CurlAsync("--socks5-hostname", $"127.0.0.1:{lab.SocksPort}", "--proxy-user", "alice:s3cr:et", "--output", socksOutput, url);
        Assert.True(socks.ExitCode == 0, $"curl exit {socks.ExitCode}: {socks.Stderr}\n{lab.Logs()}");
        Assert.Equal(body, await File.ReadAllBytesAsync(socksOutput));

        var wrongOutput = Path.Combine(_scratch.Directory, "socks-wrong");
        var wrong = await CurlAsync("--socks5-hostname", $"127.0.0.1:{lab.SocksPort}", "--proxy-user", "alice:nope", "--output", wrongOutput, url);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.False(File.Exists(wrongOutput) && new FileInfo(wrongOutput).Length > 0, "a wrong SOCKS5 password still got the body");
        Assert.True(lab.Proxy.WaitForStderr(l => l.Contains("SOCKS5 authentication failed", StringComparison.Ordinal), Startup), lab.Proxy.AllStderr);
    }

    [Fact]
    public async Task Curl_x_without_p_gets_two_URLs_over_one_proxy_connection_and_posts_bodies_with_Content_Length_and_chunked()
    {
        await using var origin = await TestHttpOrigin.StartAsync();
        var lab = StartProxy([origin.Port]);
        var proxy = $"http://127.0.0.1:{lab.HttpPort}";
        var page = $"http://{lab.BId}.quicpipe:{origin.Port}/page";

        // Two URLs in one run: curl keeps the proxy connection and says so when it sends the second request on it.
        var twice = await CurlAsync("--verbose", "-x", proxy, page, page);
        Assert.True(twice.ExitCode == 0, $"curl exit {twice.ExitCode}: {twice.Stderr}\n{lab.Logs()}");
        Assert.Equal(TestHttpOrigin.Page + TestHttpOrigin.Page, twice.Stdout);
        Assert.Contains("Re-using existing connection", twice.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, origin.Requests.Count);
        Assert.Single(origin.Requests.Select(r => r.ConnectionId).Distinct());
        Assert.All(origin.Requests, r => Assert.Equal("1.1 quicpipe", r.Headers["Via"]));

        // 3 MiB: curl asks with Expect: 100-continue first, then sends the body with Content-Length; then chunked.
        var upload = Path.Combine(_scratch.Directory, "upload");
        var body = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        await File.WriteAllBytesAsync(upload, body);
        var echo = $"http://{lab.BId}.quicpipe:{origin.Port}/echo";
        foreach (var extra in new[] { Array.Empty<string>(), ["-H", "Transfer-Encoding: chunked"] })
        {
            var output = Path.Combine(_scratch.Directory, $"echo{extra.Length}");
            var post = await CurlAsync(["-x", proxy, "--data-binary", "@" + upload, "-H", "Content-Type: application/octet-stream", .. extra, "--output", output, echo]);
            Assert.True(post.ExitCode == 0, $"curl exit {post.ExitCode}: {post.Stderr}\n{lab.Logs()}");
            Assert.Equal(SHA256.HashData(body), SHA256.HashData(await File.ReadAllBytesAsync(output)));
        }

        Assert.Equal([0, 0, body.Length, body.Length], origin.Requests.Select(r => r.BodyBytes));
        Assert.Equal("100-continue", origin.Requests.ElementAt(2).Headers["Expect"]);
        Assert.Equal("chunked", origin.Requests.ElementAt(3).Headers["Transfer-Encoding"]);
    }

    [Fact]
    public async Task Python_urllib_with_http_proxy_set_reads_the_peers_page_through_the_HTTP_proxy()
    {
        await using var origin = await TestHttpOrigin.StartAsync();
        var lab = StartProxy([origin.Port]);
        const string Fetch = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())";

        var (exitCode, stdout, stderr) = await ToolProcess.RunAsync(
            Python,
            ["-c", Fetch, $"http://{lab.BId}.quicpipe:{origin.Port}/page"],
            ToolLimit,
            new Dictionary<string, string> { ["http_proxy"] = $"http://127.0.0.1:{lab.HttpPort}" });

        Assert.True(exitCode == 0, $"python exit {exitCode}: {stderr}\n{lab.Logs()}");
        Assert.Equal(TestHttpOrigin.Page, stdout);
        Assert.Equal("1.1 quicpipe", Assert.Single(origin.Requests).Headers["Via"]);
    }

    /// <summary>
    /// Debian's Chromium, headless, as a user would point it at the proxy: <c>--proxy-server</c> with the HTTP proxy,
    /// the auto-config file, or the SOCKS5 proxy; it must show the page the peer serves.
    /// </summary>
    [Theory]
    [InlineData("http")]
    [InlineData("pac")]
    [InlineData("socks5")]
    public async Task Headless_Chromium_reads_the_peers_page_through_the_proxy(string how)
    {
        await using var origin = await TestHttpOrigin.StartAsync();
        var lab = StartProxy([origin.Port]);
        var proxyFlag = how switch
        {
            "http" => $"--proxy-server=http://127.0.0.1:{lab.HttpPort}",
            "pac" => $"--proxy-pac-url=http://127.0.0.1:{lab.HttpPort}/proxy.pac",
            _ => $"--proxy-server=socks5://127.0.0.1:{lab.SocksPort}",
        };

        var (exitCode, stdout, stderr) = await ToolProcess.RunAsync(Chromium, [.. ChromiumFlags(Path.Combine(_scratch.Directory, "chromium")), proxyFlag, "--dump-dom", $"http://{lab.BId}.quicpipe:{origin.Port}/page"], ToolLimit);

        Assert.True(exitCode == 0, $"chromium exit {exitCode}: {stderr}\n{lab.Logs()}");
        Assert.Contains($"<p id=\"peer-page\">{TestHttpOrigin.PageMarker}</p>", stdout, StringComparison.Ordinal);
        var request = Assert.Single(origin.Requests, r => r.PathAndQuery == "/page");

        // The HTTP proxy forwarded it (and says so); through SOCKS5 it was a tunnel the proxy does not look into.
        Assert.Equal(how != "socks5", request.Headers.ContainsKey("Via"));
    }

    private static string Chromium => File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : "chromium";

    /// <summary>
    /// Headless Chromium for a test: <c>--no-sandbox</c> because Chromium refuses to start as root with its sandbox
    /// ("Running as root without --no-sandbox is not supported") and CI runs as root; its own background traffic
    /// (updates, sign-in, metrics) switched off, and every host name left unresolvable but for our loopback literal,
    /// so that nothing it tries on its own (DIRECT from the PAC file, above all) can leave the machine.
    /// </summary>
    private static string[] ChromiumFlags(string profile) =>
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-breakpad", "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", $"--user-data-dir={profile}",
    ];

    [Fact]
    public async Task A_closed_port_on_the_peer_is_502_for_HTTP_and_reply_05_for_SOCKS5()
    {
        using var closedPort = new ClosedTcpPort();
        var closed = closedPort.Port;
        var lab = StartProxy([closed]);
        var url = $"http://{lab.BId}.quicpipe:{closed}/";

        var http = await CurlAsync("-p", "-x", $"http://127.0.0.1:{lab.HttpPort}", "--output", Path.Combine(_scratch.Directory, "x"), url);
        Assert.NotEqual(0, http.ExitCode);
        Assert.Contains("502", http.Stderr, StringComparison.Ordinal);
        var socks = await CurlAsync("--socks5-hostname", $"127.0.0.1:{lab.SocksPort}", "--output", Path.Combine(_scratch.Directory, "y"), url);
        Assert.NotEqual(0, socks.ExitCode);

        // curl words the SOCKS5 reply its own way; the code itself, read raw:
        Assert.Equal(0x05, await SocksReplyCodeAsync(lab.SocksPort, $"{lab.BId}.quicpipe", closed));
        Assert.True(lab.Expose.WaitForStderr(l => l == $"refused a tunnel from {lab.AId}: Refused", Startup), lab.Expose.AllStderr);
    }

    [Fact]
    public async Task Garbage_to_both_proxies_is_answered_or_closed_and_curl_works_afterwards()
    {
        var body = RandomNumberGenerator.GetBytes(1024);
        await using var server = new FixedHttpServer(body);
        var lab = StartProxy([server.Port]);

        string[] http = ["GARBAGE\r\n\r\n", "CONNECT nohost HTTP/1.1\r\n\r\n", "\u0005\u0001\u0000", $"CONNECT {lab.BId}.quicpipe:{server.Port} HTTP/1.1\r\nX: {new string('a', 9000)}\r\n\r\n", "CONNECT a:1 HT"];
        string[] expected = ["HTTP/1.1 400", "HTTP/1.1 400", "HTTP/1.1 400", "HTTP/1.1 431", string.Empty];
        for (var i = 0; i < http.Length; i++)
        {
            var answer = await SendAndReadAllAsync(lab.HttpPort, Encoding.Latin1.GetBytes(http[i]));
            Assert.True(Encoding.Latin1.GetString(answer).StartsWith(expected[i], StringComparison.Ordinal), $"'{http[i][..Math.Min(20, http[i].Length)]}' -> '{Encoding.Latin1.GetString(answer)}'");
        }

        foreach (var bad in new byte[][] { [4, 1, 0, 80, 127, 0, 0, 1, 0], [5, 0], RandomNumberGenerator.GetBytes(3000), [5, 1, 0, 5, 2, 0, 3] })
        {
            Assert.True((await SendAndReadAllAsync(lab.SocksPort, bad)).Length <= 2);
        }

        var output = Path.Combine(_scratch.Directory, "after");
        var curl = await CurlAsync("-p", "-x", $"http://127.0.0.1:{lab.HttpPort}", "--output", output, $"http://{lab.BId}.quicpipe:{server.Port}/");
        Assert.True(curl.ExitCode == 0, $"curl exit {curl.ExitCode}: {curl.Stderr}\n{lab.Logs()}");
        Assert.Equal(body, await File.ReadAllBytesAsync(output));
        Assert.Equal(0x00, await SocksReplyCodeAsync(lab.SocksPort, $"{lab.BId}.quicpipe", server.Port));
        Assert.False(lab.Proxy.HasExited, lab.Proxy.AllStderr);
    }

    [Fact]
    public async Task A_python_gRPC_call_goes_through_the_HTTP_CONNECT_proxy_to_a_gRPC_server_behind_expose()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "grpc_echo.py");
        using var grpcServer = StartGrpcServer(script, out var grpcPort);
        var lab = StartProxy([grpcPort]);
        var payload = RandomNumberGenerator.GetBytes(2000);

        var (exitCode, stdout, stderr) = await ToolProcess.RunAsync(Python, [script, "client", $"{lab.BId}.quicpipe:{grpcPort}", $"http://127.0.0.1:{lab.HttpPort}", Convert.ToHexString(payload)], ToolLimit);

        Assert.True(exitCode == 0, $"gRPC client exit {exitCode}: {stderr}\n{lab.Logs()}");
        Assert.Equal(Convert.ToHexStringLower([.. "echo:"u8, .. payload]), stdout.Trim());
        Assert.Single(lab.Expose.Stderr, l => l.StartsWith($"accepted {lab.AId}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Iperf3_runs_3_seconds_of_TCP_through_forward_and_expose()
    {
        var serverPort = CliTestKit.FreeTcpPort();

        // --forceflush: iperf3 buffers stdout on a pipe, and the "listening" line is how we know it is ready.
        using var iperfServer = StartTool("iperf3", "-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", serverPort.ToString(CultureInfo.InvariantCulture));
        Assert.True(iperfServer.WaitForStdout(l => l.Contains("Server listening", StringComparison.Ordinal), Startup), "iperf3 -s did not start");
        var (relayId, relayAddress) = StartRelay();
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var expose = Quicpipe("expose", serverPort.ToString(CultureInfo.InvariantCulture), "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId);
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);
        var localPort = CliTestKit.FreeTcpPort();
        var forward = Quicpipe("forward", localPort.ToString(CultureInfo.InvariantCulture), $"{bId}:{serverPort}", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId);
        Assert.True(forward.WaitForStderr(l => l.StartsWith("forwarding ", StringComparison.Ordinal), Startup), forward.AllStderr);

        var (exitCode, stdout, stderr) = await ToolProcess.RunAsync("iperf3", ["-c", "127.0.0.1", "-p", localPort.ToString(CultureInfo.InvariantCulture), "-t", "3", "-J"], ToolLimit);

        Assert.True(exitCode == 0, $"iperf3 exit {exitCode}: {stderr}\n{stdout}\nforward:\n{forward.AllStderr}\nexpose:\n{expose.AllStderr}");
        using var report = JsonDocument.Parse(stdout);
        var received = report.RootElement.GetProperty("end").GetProperty("sum_received");
        var bytes = received.GetProperty("bytes").GetInt64();
        Assert.True(bytes > 0, stdout);
        Console.WriteLine($"iperf3 through forward/expose: {bytes} bytes, {received.GetProperty("bits_per_second").GetDouble() / 1e6:0} Mbit/s");
    }

    [Fact]
    public async Task A_thousand_parallel_short_SOCKS5_connections_100_at_a_time_all_come_back_byte_exact()
    {
        await using var echo = new EchoTcpServer();
        var lab = StartProxy([echo.Port]);
        var host = Encoding.ASCII.GetBytes($"{lab.BId}.quicpipe");
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        using var slots = new SemaphoreSlim(100);
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            await slots.WaitAsync(limit.Token);
            try
            {
                using var client = await ConnectAsync(lab.SocksPort, limit.Token);
                await client.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None, limit.Token);
                Assert.Equal(new byte[] { 5, 0 }, await ReadExactlyAsync(client, 2, limit.Token));
                byte[] request = [5, 1, 0, 3, (byte)host.Length, .. host, (byte)(echo.Port >> 8), (byte)echo.Port];
                await client.SendAsync(request, SocketFlags.None, limit.Token);
                var reply = await ReadExactlyAsync(client, 10, limit.Token);
                Assert.Equal(0, reply[1]);
                var message = RandomNumberGenerator.GetBytes(200 + (i % 64 * 13));
                await client.SendAsync(message, SocketFlags.None, limit.Token);
                client.Shutdown(SocketShutdown.Send);
                var echoed = await ReadAllAsync(client, limit.Token);
                Assert.Equal(message, echoed);
            }
            finally
            {
                slots.Release();
            }
        }));

        Assert.Equal(1000, echo.Accepted);
        Console.WriteLine($"1000 SOCKS5 connections through the proxy process: {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task Out_of_file_descriptors_the_proxy_waits_between_accepts_instead_of_spinning_and_serves_again_once_freed()
    {
        var body = RandomNumberGenerator.GetBytes(4096);
        await using var server = new FixedHttpServer(body);
        var lab = StartProxy([server.Port]);

        // Leave the proxy 24 descriptors, then hold more connections open than it can accept (they wait for a request
        // head, which never comes): the rest stay in the backlog.
        const int Free = 24;
        var open = Directory.GetFiles($"/proc/{lab.Proxy.Id}/fd").Length;
        var limit = open + Free;
        var nofile = limit.ToString(CultureInfo.InvariantCulture);
        var prlimit = await ToolProcess.RunAsync("prlimit", ["--pid", lab.Proxy.Id.ToString(CultureInfo.InvariantCulture), $"--nofile={nofile}:{nofile}"], ToolLimit);
        Assert.True(prlimit.ExitCode == 0, prlimit.Stderr);
        using var deadline = new CancellationTokenSource(ToolLimit);
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < 2 * Free; i++)
            {
                held.Add(await ConnectAsync(lab.HttpPort, deadline.Token));
            }

            // A loop that retries at once burns a whole core; one that pauses 100 ms between tries, almost nothing.
            await Task.Delay(500, deadline.Token);
            Assert.False(lab.Proxy.HasExited, $"the proxy exited out of descriptors\n{lab.Logs()}");
            var before = CpuTicks(lab.Proxy.Id);
            await Task.Delay(1000, deadline.Token);
            Assert.False(lab.Proxy.HasExited, $"the proxy exited out of descriptors\n{lab.Logs()}");
            var used = CpuTicks(lab.Proxy.Id) - before;
            Assert.True(used < 30, $"the proxy used {used} ticks (1/100 s) of CPU in 1 s while out of descriptors");

            // It stopped accepting with descriptors to spare: the runtime needs a few to start a thread, and aborts
            // the process ("Out of memory.") when it finds none. Accepting until EMFILE would leave 0 free.
            var inUse = Directory.GetFiles($"/proc/{lab.Proxy.Id}/fd").Length;
            Assert.True(limit - inUse >= 8, $"{limit - inUse} of {limit} descriptors left free while clients wait");
            Assert.True(limit - inUse < Free, $"{limit - inUse} of {limit} descriptors free: the proxy accepted none of the clients");
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }

        // Descriptors back (the held clients closed): the proxy serves again.
        var output = Path.Combine(_scratch.Directory, "after");
        var url = $"http://{lab.BId}.quicpipe:{server.Port}/file";
        var curl = await CurlAsync("-p", "-x", $"http://127.0.0.1:{lab.HttpPort}", "--retry", "5", "--retry-all-errors", "--retry-delay", "1", "--output", output, url);
        Assert.True(curl.ExitCode == 0, $"curl exit {curl.ExitCode}: {curl.Stderr}\n{lab.Logs()}");
        Assert.Equal(body, await File.ReadAllBytesAsync(output));
    }

    /// <summary>User plus system CPU time of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).</summary>
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData("--http", "--relay", "127.0.0.1:1", "--key", "k")]
    [InlineData("--proxy-user", "--http", "3128", "--proxy-user", "nocolon", "--relay", "127.0.0.1:1", "--key", "k")]
    [InlineData("--header-timeout", "--socks5", "1080", "--header-timeout", "0", "--relay", "127.0.0.1:1", "--key", "k")]
    public void Bad_arguments_exit_2_with_one_line_naming_the_flag(string named, params string[] args)
    {
        var (exitCode, _, stderr) = RelayProcess.Run(Startup, ["proxy", .. args]);

        Assert.Equal(2, exitCode);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Relay, expose of <paramref name="exposedPorts"/> to A, and A's proxy with both listeners.</summary>
    private Lab StartProxy(int[] exposedPorts, params string[] proxyFlags)
    {
        var (relayId, relayAddress) = StartRelay();
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var expose = Quicpipe(["expose", .. exposedPorts.Select(p => p.ToString(CultureInfo.InvariantCulture)), "--allow", aId, "--relay", relayAddress, "--key", bKey, "--relay-id", relayId]);
        Assert.True(expose.WaitForStderr(l => l.StartsWith("exposing 127.0.0.1", StringComparison.Ordinal), Startup), expose.AllStderr);

        var httpPort = CliTestKit.FreeTcpPort();
        var socksPort = CliTestKit.FreeTcpPort();
        var proxy = Quicpipe(["proxy", "--http", httpPort.ToString(CultureInfo.InvariantCulture), "--socks5", socksPort.ToString(CultureInfo.InvariantCulture), "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, .. proxyFlags]);
        Assert.True(proxy.WaitForStderr(l => l.StartsWith("SOCKS5 proxy on", StringComparison.Ordinal), Startup), proxy.AllStderr);
        return new Lab(expose, proxy, httpPort, socksPort, aId, bId);
    }

    private (string RelayId, string Address) StartRelay()
    {
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = Quicpipe("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0");
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (id, address);
    }

    private RelayProcess Quicpipe(params string[] args)
    {
        var process = RelayProcess.Start(args);
        _scratch.Own(process);
        return process;
    }

    private LineProcess StartTool(string file, params string[] args) => LineProcess.Start(file, args);

    private LineProcess StartGrpcServer(string script, out int port)
    {
        var server = LineProcess.Start(Python, script, "server");
        Assert.True(server.WaitForStdout(l => int.TryParse(l, out _), Startup), "the gRPC server did not start (is python3-grpcio installed? scripts/setup.sh installs it): " + server.AllStderr);
        port = int.Parse(server.Stdout.First(l => int.TryParse(l, out _)), CultureInfo.InvariantCulture);
        return server;
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> CurlAsync(params string[] args) =>
        ToolProcess.RunAsync("curl", ["--silent", "--show-error", "--max-time", "30", .. args], ToolLimit);

    private static async Task<byte> SocksReplyCodeAsync(int socksPort, string host, int port)
    {
        using var limit = new CancellationTokenSource(ToolLimit);
        using var client = await ConnectAsync(socksPort, limit.Token);
        var name = Encoding.ASCII.GetBytes(host);
        byte[] greetingAndRequest = [5, 1, 0, 5, 1, 0, 3, (byte)name.Length, .. name, (byte)(port >> 8), (byte)port];
        await client.SendAsync(greetingAndRequest, SocketFlags.None, limit.Token);
        var answer = await ReadExactlyAsync(client, 12, limit.Token);
        Assert.Equal(12, answer.Length);
        return answer[3];
    }

    private static async Task<byte[]> SendAndReadAllAsync(int port, byte[] bytes)
    {
        using var limit = new CancellationTokenSource(ToolLimit);
        using var client = await ConnectAsync(port, limit.Token);
        await client.SendAsync(bytes, SocketFlags.None, limit.Token);
        client.Shutdown(SocketShutdown.Send);
        try
        {
            return await ReadAllAsync(client, limit.Token);
        }
        catch (SocketException)
        {
            return [];
        }
    }

    private static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        return socket;
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return buffer[..filled];
    }

    private static async Task<byte[]> ReadAllAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
        {
            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }

    private sealed record Lab(RelayProcess Expose, RelayProcess Proxy, int HttpPort, int SocksPort, string AId, string BId)
    {
        public string Logs() => $"proxy:\n{Proxy.AllStderr}\nexpose:\n{Expose.AllStderr}";
    }
}
