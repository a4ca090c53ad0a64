using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// What a careless user (or an attacker) gives the commands, from issue 18: bad numbers, key files that are wrong,
/// huge, endless or too open, ports another process holds. Each is one line on stderr and an exit code, never a stack.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BadInputTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private const string NodeA = "s5ouynmapxcti3fpc6ecopezo3p62x3l3ejbxrul3caofybr7pgq";
    private readonly CliScratch _scratch = new("quicpipe-badinput-");

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData("--threads", "quicpipe relay: --threads must be a whole number from 1 to 256, not 'abc'.", "relay", "--threads", "abc")]
    [InlineData("--batch", "quicpipe relay: --batch must be 1 to 1024, not 99999999999.", "relay", "--batch", "99999999999")]
    [InlineData("--table-capacity", "quicpipe relay: --table-capacity must be a whole number from 1 to 67108864, not '1e6'.", "relay", "--table-capacity", "1e6")]
    [InlineData("--cid-length", "quicpipe dial: --cid-length must be a whole number from 8 to 20, not 'x'.", "dial", "--cid-length", "x", "--relay", "127.0.0.1:9", "--key", "k", NodeA)]
    [InlineData("--max-connections", "quicpipe proxy: --max-connections must be a whole number from 1 to 65536, not 'x'.", "proxy", "--max-connections", "x", "--http", "3128", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--header-timeout", "quicpipe proxy: --header-timeout: 'abc' is not a duration (examples: 1s, 500ms, 2m, 0 for off).", "proxy", "--header-timeout", "abc", "--http", "3128", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--header-timeout", "quicpipe proxy: --header-timeout: '100d' is not a duration (examples: 1s, 500ms, 2m, 0 for off).", "proxy", "--header-timeout", "100d", "--http", "3128", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--allow", "quicpipe accept: --allow: 'bogus' is not a NodeId (52 base32 characters, as 'quicpipe keygen' prints).", "accept", "--allow", "bogus", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--offer-in", "quicpipe accept: --offer-in: /nonexistent: no such file", "accept", "--offer-in", "@/nonexistent", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--offer-in", "quicpipe accept: --offer-in: /dev/zero: not a regular file (a device?), so not an offer file", "accept", "--offer-in", "@/dev/zero", "--relay", "127.0.0.1:9", "--key", "k")]
    [InlineData("--log-level", "quicpipe relay: --log-level: 'loud' is not one of Trace, Debug, Information, Warning, Error, Critical, None.", "relay", "--log-level", "loud")]
    public void The_flags_that_crashed_are_one_line_and_exit_2(string flag, string line, params string[] args)
    {
        var (code, stdout, stderr) = RelayProcess.Run(Startup, args);

        Assert.Equal(2, code);
        Assert.Equal(line, Assert.Single(Lines(stderr)));
        Assert.Contains(flag, line, StringComparison.Ordinal);
        Assert.Empty(stdout.Trim());
    }

    [Fact]
    public void A_private_key_that_is_not_its_certificates_is_one_line_in_words_for_the_relay_and_a_peer()
    {
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        var mixed = WriteSecret("mixed.key", a.PrivateKeyPem + "\n" + b.CertificatePem);
        var words = $"{mixed}: its private key does not belong to its certificate";

        var relay = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--key", mixed, "--stats-interval", "0");
        var accept = RelayProcess.Run(Startup, "accept", "--relay", "127.0.0.1:9", "--key", mixed, "--allow", NodeA);

        Assert.Equal(2, relay.ExitCode);
        Assert.StartsWith($"quicpipe relay: --key: {words}", Assert.Single(Lines(relay.Stderr)), StringComparison.Ordinal);
        Assert.Equal(2, accept.ExitCode);
        Assert.StartsWith($"quicpipe accept: cannot load the key file: {words}", Assert.Single(Lines(accept.Stderr)), StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", relay.Stderr + accept.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Dev_zero_as_a_key_fails_at_once_with_one_line()
    {
        var clock = Stopwatch.StartNew();
        var relay = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--key", "/dev/zero", "--stats-interval", "0");
        var dial = RelayProcess.Run(Startup, "dial", "--relay", "127.0.0.1:9", "--key", "/dev/zero", NodeA);
        clock.Stop();

        // It used to read until 4.2 GB and die of OutOfMemory after 20 s; two process starts take a few seconds at most.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Equal(2, relay.ExitCode);
        Assert.Equal("quicpipe relay: --key: /dev/zero: not a regular file (a device?), so not a key file", Assert.Single(Lines(relay.Stderr)));
        Assert.Equal(2, dial.ExitCode);
        Assert.Equal("quicpipe dial: cannot load the key file: /dev/zero: not a regular file (a device?), so not a key file", Assert.Single(Lines(dial.Stderr)));
    }

    [Fact]
    public void A_key_file_over_64_KiB_is_refused_unread()
    {
        var large = WriteSecret("large.key", new string('A', 1024 * 1024));

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--key", large, "--stats-interval", "0");

        Assert.Equal(2, code);
        Assert.Equal($"quicpipe relay: --key: {large}: larger than 65536 bytes, too large for a key file", Assert.Single(Lines(stderr)));
    }

    [Fact]
    public void A_key_file_others_may_read_is_refused_with_the_chmod_to_run_as_ssh_does()
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "open");
        File.SetUnixFileMode(key, (UnixFileMode)Convert.ToInt32("644", 8));

        var relay = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--key", key, "--stats-interval", "0");
        var expose = RelayProcess.Run(Startup, "expose", "8000", "--relay", "127.0.0.1:9", "--key", key, "--allow", NodeA);

        var why = $"permissions 0644 for '{key}' are too open; run: chmod 600 {key}";
        Assert.Equal(2, relay.ExitCode);
        Assert.Equal($"quicpipe relay: --key: {why}", Assert.Single(Lines(relay.Stderr)));
        Assert.Equal(2, expose.ExitCode);
        Assert.Equal($"quicpipe expose: cannot load the key file: {why}", Assert.Single(Lines(expose.Stderr)));

        // And the chmod it names is the fix.
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var fixedRelay = _scratch.Own(RelayProcess.Start("relay", "--listen", "127.0.0.1:0", "--key", key, "--threads", "1", "--stats-interval", "0"));
        Assert.True(fixedRelay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), fixedRelay.AllStderr);
    }

    [Fact]
    public void A_routes_directory_is_said_to_be_a_directory()
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--routes", _scratch.Directory, "--stats-interval", "0");

        Assert.Equal(2, code);
        Assert.Equal($"quicpipe relay: {_scratch.Directory}: is a directory, not a routes file", Assert.Single(Lines(stderr)));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public void A_second_relay_on_the_port_a_relay_holds_exits_1_and_the_first_keeps_it(string threads)
    {
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var first = _scratch.Own(RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", threads, "--stats-interval", "0"));
        Assert.True(first.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), first.AllStderr);

        // SO_REUSEPORT of the same user would let it bind and take half the packets (issue 18: 5 of 6 pinned
        // transfers failed); it must be refused, and say so, as a TCP server would.
        var (key2, _) = CliTestKit.Identity(_scratch.Directory, "relay2");
        var second = RelayProcess.Run(Startup, "relay", "--listen", address, "--key", key2, "--threads", threads, "--stats-interval", "0");

        Assert.Equal(1, second.ExitCode);
        Assert.Equal($"quicpipe relay: UDP {address} is already in use (another process holds it)", Assert.Single(Lines(second.Stderr)));

        // The first relay still has every packet: a peer pinned to it registers (a second relay would answer half
        // the handshakes with its own NodeId, which the pin refuses).
        Assert.False(first.HasExited);
        var (peerKey, _) = CliTestKit.Identity(_scratch.Directory, "peer");
        for (var i = 0; i < 3; i++)
        {
            using var accept = _scratch.Own(RelayProcess.Start("accept", "--relay", address, "--relay-id", relayId, "--key", peerKey, "--allow", NodeA, "--timeout", "10s"));
            Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as ", StringComparison.Ordinal), Startup), accept.AllStderr);
        }
    }

    [Fact]
    public void Two_listen_addresses_that_overlap_are_named_as_a_bad_flag_not_another_process()
    {
        var port = CliTestKit.FreeUdpPort();

        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", $"0.0.0.0:{port}", "--listen", $"127.0.0.1:{port}", "--stats-interval", "0");

        Assert.Equal(2, code);
        Assert.Equal($"quicpipe relay: UDP 127.0.0.1:{port} overlaps UDP 0.0.0.0:{port}, which this server listens on too: give one of them", Assert.Single(Lines(stderr)));
    }

    [Fact]
    public void A_proxy_port_another_process_holds_is_named()
    {
        var relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", relayAddress, "--key", relayKey, "--threads", "1", "--stats-interval", "0"));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "a");

        var (code, _, stderr) = RelayProcess.Run(Startup, "proxy", "--http", $"{port}", "--relay", relayAddress, "--relay-id", relayId, "--key", key);

        Assert.Equal(1, code);
        Assert.Equal($"quicpipe proxy: TCP 127.0.0.1:{port} is already in use (another process holds it)", Assert.Single(Lines(stderr)));
    }

    private string WriteSecret(string name, string text)
    {
        var file = Path.Combine(_scratch.Directory, name);
        File.WriteAllText(file, text);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return file;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
