using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using QuicPipe.Lab;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe vpn</c> as a user runs it, up to the point where it would need a peer: its help, the flags it
/// refuses, malformed or refused by the VPN (exit 2, one line, nothing created), and, as root, how creating
/// the TUN device fails and that a failure after it was created removes it. As root every run is inside a
/// network namespace made for it, so a run that went further than it should touches nothing of the host.
/// </summary>
public sealed partial class VpnCommandTests : IDisposable
{
    private const string Prefix = "quicpipe vpn: ";
    private const int SigStop = 19;
    private const int SigCont = 18;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly CliScratch _scratch = new("quicpipe-vpn-");
    private readonly string _key;
    private readonly string _peer = NodeIdentity.Generate().NodeId.ToString();
    private readonly string _otherPeer = NodeIdentity.Generate().NodeId.ToString();

    public VpnCommandTests() => (_key, _) = CliTestKit.Identity(_scratch.Directory, "a");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Help_lists_the_vpn_options()
    {
        var (code, stdout, _) = RelayProcess.Run(Limit, "vpn", "--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "--address", "--peer", "--tun", "--mtu", "--no-offload", "--relay-only", "--stats-interval", "--relay", "--key", "--timeout" })
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("CAP_NET_ADMIN", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_peer_it_exits_2_saying_peer_is_required()
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("Option '--peer' is required.", run.Stderr, StringComparison.Ordinal);
        run.AssertNothingCreated();
    }

    [Theory]
    [InlineData("100.64.0.2/32", "expected NODEID=PREFIX[,PREFIX...]")]
    [InlineData("=100.64.0.2/32", "expected NODEID=PREFIX[,PREFIX...]")]
    [InlineData("NOTANODEID=100.64.0.2/32", "'NOTANODEID' is not a NodeId.")]
    public async Task A_malformed_peer_flag_exits_2_naming_it(string peer, string why)
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", peer]);

        // README: bad arguments exit 2, failures at run time exit 1; --relay-id with a bad NodeId exits 2 too.
        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}, expected 2 (bad arguments): {run.Stderr}");
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"{Prefix}bad --peer '{peer}'", line, StringComparison.Ordinal);
        Assert.Contains(why, line, StringComparison.Ordinal);
        run.AssertNothingCreated();
    }

    [Theory]
    [InlineData("10.9.0.1/16", "'10.9.0.1/16' has host bits set beyond /16: the network is 10.9.0.0/16.")]
    [InlineData("garbage", "'garbage' is not an IPv4 or IPv6 address")]
    [InlineData("10.9.0.0/33", "10.9.0.0/33")]
    public async Task A_bad_prefix_exits_2_with_one_line_naming_it_and_creates_nothing(string prefix, string why)
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32,{prefix}"]);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"{Prefix}bad prefix '{prefix}' for peer {_peer}: ", line, StringComparison.Ordinal);
        Assert.Contains(why, line, StringComparison.Ordinal);
        run.AssertNothingCreated();
    }

    [Fact]
    public async Task A_prefix_given_to_two_peers_exits_2_with_one_line_naming_it_and_both_peers_and_creates_nothing()
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32,10.9.0.0/16", "--peer", $"{_otherPeer}=100.64.0.3/32,10.9.0.0/16"]);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"{Prefix}The prefix 10.9.0.0/16 is given to both", line, StringComparison.Ordinal);
        run.AssertNothingCreated();

        // A user knows the peers by NodeId, not by their position on the command line; and the line is for a user,
        // not a .NET parameter name.
        Assert.True(line.Contains(_peer, StringComparison.Ordinal) && line.Contains(_otherPeer, StringComparison.Ordinal), $"the line does not name the two peers: {line}");
        Assert.DoesNotContain("(Parameter", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("100.64.0.1")]
    [InlineData("100.64.0.300/24")]
    [InlineData("100.64.0.1/33")]
    [InlineData("fd00:64::1")]
    public async Task A_bad_address_exits_2_with_one_line_naming_it_and_creates_nothing(string address)
    {
        var run = await RunVpnAsync(["--address", address, "--peer", $"{_peer}=100.64.0.2/32"]);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StderrLines);
        Assert.Equal($"{Prefix}bad --address '{address}': expected ADDRESS/LENGTH, e.g. 100.64.0.1/24 or fd00:64::1/64.", line);
        run.AssertNothingCreated();
    }

    [Fact]
    public async Task A_peer_listed_twice_exits_2_with_one_line_naming_it_and_creates_nothing()
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", $"{_peer}=10.9.0.0/16", "--peer", $"{_peer}=10.8.0.0/16"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"{Prefix}Peer {_peer} is listed twice; give all its prefixes in one entry.", Assert.Single(run.StderrLines));
        run.AssertNothingCreated();
    }

    [Theory]
    [InlineData("--tun", "abcdefghijklmnopq", "The TUN device name 'abcdefghijklmnopq' is not valid")]
    [InlineData("--mtu", "1000", "The MTU of TUN device qp0 is 1000, but the IPv6 address fd00:64::1/64 needs at least 1280.")]
    public async Task Device_settings_the_device_refuses_exit_2_with_one_line_for_a_user_and_create_nothing(string flag, string value, string why)
    {
        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--address", "fd00:64::1/64", "--peer", $"{_peer}=100.64.0.2/32", flag, value]);

        Assert.Equal(2, run.ExitCode);
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"{Prefix}{why}", line, StringComparison.Ordinal);
        run.AssertNothingCreated();

        // The line is for a user: no .NET parameter name tacked on (ArgumentException.Message adds " (Parameter 'X')").
        Assert.DoesNotContain("(Parameter", line, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task A_TUN_name_taken_by_a_device_of_another_kind_exits_1_naming_it_and_leaves_that_device_alone()
    {
        using var ns = new TestNamespace("qpvpn");
        ns.Ip("link", "add", "qp0", "type", "veth", "peer", "name", "qp0peer");

        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32"], ns);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"{Prefix}A network device named qp0 already exists and is not a TUN device (it is a veth device); remove it or choose another name.", Assert.Single(run.StderrLines));
        Assert.Contains("veth", ns.Ip("-d", "link", "show", "dev", "qp0"), StringComparison.Ordinal);
        Assert.Equal(["lo", "qp0", "qp0peer"], ns.LinkNames().Order());
    }

    [RootFact]
    public async Task Without_root_or_CAP_NET_ADMIN_it_exits_1_saying_so()
    {
        using var ns = new TestNamespace("qpvpn");
        using var nobody = NobodyRun.Prepare(_scratch.Directory);

        var run = await RunVpnAsync(["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32"], ns, nobody);

        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.Equal($"{Prefix}Creating TUN device qp0 needs root or CAP_NET_ADMIN.", Assert.Single(run.StderrLines));
        Assert.Equal(["lo"], ns.LinkNames());
    }

    [RootFact]
    public async Task An_unreachable_relay_exits_1_saying_so_and_the_TUN_device_it_created_first_is_removed()
    {
        using var ns = new TestNamespace("qpvpn");

        // The TUN listener starts before the peer reaches for the relay: the device exists while the relay is tried.
        var sawDevice = false;

        // The kernel removes a TUN device when its last descriptor closes, at exit at the latest: quicpipe must have
        // removed it (and its routes) itself by the time it reports the failure, with the process still alive.
        bool? deviceWhenReported = null;
        var run = await RunVpnAsync(
            ["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32,10.9.0.0/16"],
            ns,
            whileRunning: () => sawDevice |= ns.TryIp("link", "show", "dev", "qp0").Success,
            onStderrLine: line => deviceWhenReported ??= line.Contains("did not answer", StringComparison.Ordinal) ? ns.TryIp("link", "show", "dev", "qp0").Success : null);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"{Prefix}Relay 127.0.0.1:1 did not answer within 2 s (is it running, and is UDP to it open?).", Assert.Single(run.StderrLines));
        Assert.True(sawDevice, "qp0 never appeared while the relay was tried");
        Assert.False(deviceWhenReported, "qp0 was still there when the failure was reported (left for the kernel to remove at exit)");
        var (gone, _) = ns.TryIp("link", "show", "dev", "qp0");
        Assert.False(gone, "qp0 is still there after exit");
        Assert.Equal(["lo"], ns.LinkNames());
        Assert.DoesNotContain("10.9.0.0/16", ns.Ip("route", "show"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_device_has_segmentation_offloads_unless_no_offload_is_given(bool offload)
    {
        using var ns = new TestNamespace("qpvpn");
        bool? vnetHeader = null;
        string[] flags = ["--address", "100.64.0.1/24", "--peer", $"{_peer}=100.64.0.2/32"];

        // The relay is unreachable: the device lives for the 2 s the relay is tried, long enough to look at it.
        var run = await RunVpnAsync(
            offload ? flags : [.. flags, "--no-offload"],
            ns,
            whileRunning: () =>
            {
                if (vnetHeader is null && ns.TryIp("link", "show", "dev", "qp0").Success)
                {
                    vnetHeader = ns.IpJson("-d", "link", "show", "dev", "qp0")[0].GetProperty("linkinfo").GetProperty("info_data").GetProperty("vnet_hdr").GetBoolean();
                }
            });

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(offload, vnetHeader);
    }

    /// <summary>
    /// Runs <c>quicpipe vpn --relay 127.0.0.1:1 --timeout 2s --key KEY ARGS</c> to its end: inside
    /// <paramref name="ns"/> (as root, a fresh one when none is given), as <paramref name="nobody"/> if given.
    /// <paramref name="whileRunning"/> is called every 50 ms until it ends; <paramref name="onStderrLine"/> with each
    /// line of stderr as it comes, while the process waits stopped (SIGSTOP), so what the line says is checked
    /// against the state the process is in when it says it, before it goes on to exit.
    /// </summary>
    private async Task<VpnRun> RunVpnAsync(string[] args, TestNamespace? ns = null, NobodyRun? nobody = null, Action? whileRunning = null, Action<string>? onStderrLine = null)
    {
        using var own = ns is null && Root.IsRoot ? new TestNamespace("qpvpn") : null;
        var inside = ns ?? own;
        var quicpipe = nobody?.Quicpipe ?? Path.Combine(AppContext.BaseDirectory, "quicpipe.dll");
        string[] command = [
            .. inside is null ? Array.Empty<string>() : ["ip", "netns", "exec", inside.Name],
            .. nobody is null ? Array.Empty<string>() : NobodyRun.Setpriv,
            "dotnet", quicpipe, "vpn", "--relay", "127.0.0.1:1", "--timeout", "2s", "--key", nobody?.Key ?? _key, .. args,
        ];
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command[1..])
        {
            start.ArgumentList.Add(arg);
        }

        if (nobody is not null)
        {
            start.Environment["HOME"] = nobody.Home;
            start.Environment["DOTNET_CLI_HOME"] = nobody.Home;
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            Append(stderr, line);
            if (onStderrLine is not null)
            {
                // ip netns exec and setpriv exec quicpipe: the pid is dotnet's own.
                var stopped = Kill(process.Id, SigStop) == 0;
                try
                {
                    onStderrLine(line);
                }
                finally
                {
                    if (stopped)
                    {
                        _ = Kill(process.Id, SigCont);
                    }
                }
            }
        };
        if (!process.Start())
        {
            throw new InvalidOperationException($"{command[0]} did not start");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            if (clock.Elapsed > Limit)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"quicpipe vpn {string.Join(' ', args)} did not end within {Limit}: {Text(stderr)}");
            }

            whileRunning?.Invoke();
            await Task.Delay(50);
        }

        await process.WaitForExitAsync(); // drains the redirected output
        return new VpnRun(process.ExitCode, Text(stdout), Text(stderr), own);

        static void Append(StringBuilder text, string? line)
        {
            if (line is not null)
            {
                lock (text)
                {
                    text.Append(line).Append('\n');
                }
            }
        }

        static string Text(StringBuilder text)
        {
            lock (text)
            {
                return text.ToString();
            }
        }
    }

    // int kill(pid_t pid, int sig);
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>What a run said, and the links of its own namespace afterwards (null when it had none: not root).</summary>
    private sealed class VpnRun
    {
        private readonly IReadOnlyList<string>? _links;

        public VpnRun(int exitCode, string stdout, string stderr, TestNamespace? ownNamespace)
        {
            ExitCode = exitCode;
            Stdout = stdout;
            Stderr = stderr;
            _links = ownNamespace?.LinkNames();
        }

        public int ExitCode { get; }

        public string Stdout { get; }

        public string Stderr { get; }

        public IReadOnlyList<string> StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        /// <summary>As root: no device (nor anything else) was made in the run's namespace.</summary>
        public void AssertNothingCreated()
        {
            if (_links is not null)
            {
                Assert.Equal(["lo"], _links);
            }
        }
    }

    /// <summary>
    /// What running quicpipe as nobody (uid 65534, no capabilities) needs: setpriv, a home for dotnet, a key file
    /// and a quicpipe.dll nobody can read (the test's own bin directory if nobody can, else a copy of it).
    /// </summary>
    private sealed class NobodyRun : IDisposable
    {
        public static readonly string[] Setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];

        private readonly string _directory;

        private NobodyRun(string directory, string quicpipe)
        {
            _directory = directory;
            Quicpipe = quicpipe;
            Home = Path.Combine(directory, "home");
            Key = Path.Combine(directory, "nobody.key");
        }

        public string Quicpipe { get; }

        public string Home { get; }

        public string Key { get; }

        public static NobodyRun Prepare(string scratch)
        {
            var directory = Directory.CreateTempSubdirectory("quicpipe-vpn-nobody-").FullName;
            var quicpipe = Path.Combine(AppContext.BaseDirectory, "quicpipe.dll");
            if (NetworkLab.Run("sh", "-c", $"{string.Join(' ', Setpriv)} test -r '{quicpipe}' && echo yes || echo no").Trim() != "yes")
            {
                // The bin directory is not readable by nobody (a private home or work directory): a copy is.
                var copy = Path.Combine(directory, "bin");
                NetworkLab.Run("cp", "-r", AppContext.BaseDirectory, copy);
                quicpipe = Path.Combine(copy, "quicpipe.dll");
            }

            var run = new NobodyRun(directory, quicpipe);
            Directory.CreateDirectory(run.Home);
            File.Copy(CliTestKit.Identity(scratch, "nobody").KeyFile, run.Key);
            NetworkLab.Run("chmod", "-R", "a+rX", directory);
            NetworkLab.Run("chmod", "a+w", run.Home);

            // A key file is nobody's own and for nobody alone, or quicpipe refuses it as too open (as ssh would).
            NetworkLab.Run("chown", "65534:65534", run.Key);
            NetworkLab.Run("chmod", "600", run.Key);
            return run;
        }

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
