using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// Three processes on loopback, as a user runs them: <c>quicpipe relay</c>, <c>quicpipe accept</c> and
/// <c>quicpipe dial</c>, with real stdin and stdout.
/// </summary>
public sealed class PeerCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(120);
    private readonly CliScratch _scratch = new("quicpipe-peers-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Dial_and_accept_move_100_MB_one_way_and_1_MB_back_byte_exact_through_the_relay()
    {
        var (relay, relayId) = StartRelay(out var relayAddress);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--allow", aId);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--relay-only", bId);

        var forward = CliTestKit.WriteRandomAsync(dial.Stdin, 100 * 1024 * 1024, seed: 1);
        var backward = CliTestKit.WriteRandomAsync(accept.Stdin, 1024 * 1024, seed: 2);
        var sentForward = await forward;
        var sentBackward = await backward;

        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(100L * 1024 * 1024, accept.StdoutBytes);
        Assert.Equal(sentForward, accept.StdoutSha256());
        Assert.Equal(1024L * 1024, dial.StdoutBytes);
        Assert.Equal(sentBackward, dial.StdoutSha256());
        Assert.Contains(dial.Stderr, l => l.StartsWith($"path: relayed {relayAddress}", StringComparison.Ordinal));
        Assert.DoesNotContain(dial.Stderr, l => l.StartsWith("path: direct", StringComparison.Ordinal));
        GC.KeepAlive(relay);
    }

    [Fact]
    public async Task By_default_the_connection_moves_to_the_direct_path_and_both_sides_say_so()
    {
        var (relay, relayId) = StartRelay(out var relayAddress);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--allow", aId);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--stats-interval", "200ms", bId);
        using var forward = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        await CliTestKit.WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 3);
        Assert.True(dial.WaitForStderr(l => l.StartsWith("path: direct 127.0.0.1:", StringComparison.Ordinal), Transfer), dial.AllStderr);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("path: direct 127.0.0.1:", StringComparison.Ordinal), Transfer), accept.AllStderr);
        await CliTestKit.WriteChunkAsync(dial.Stdin, forward, 4 * 1024 * 1024, seed: 4);
        Assert.True(dial.WaitForStderr(l => StatsDirectBytes(l) > 4 * 1024 * 1024, Transfer), dial.AllStderr);
        dial.Stdin.Close();
        accept.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.Equal(5L * 1024 * 1024, accept.StdoutBytes);
        Assert.Equal(forward.GetCurrentHash(), accept.StdoutSha256());
        var first = dial.Stderr.First(l => l.StartsWith("path: ", StringComparison.Ordinal));
        Assert.StartsWith($"path: relayed {relayAddress} rtt ", first, StringComparison.Ordinal); // every dial starts relayed
        GC.KeepAlive(relay);
    }

    [Fact]
    public async Task A_transfer_shorter_than_the_stats_interval_still_ends_with_a_stats_line_of_its_totals()
    {
        var (relay, relayId) = StartRelay(out var relayAddress);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--allow", aId, "--relay-only");
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--relay-only", "--stats-interval", "10m", bId);
        using var forward = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        await CliTestKit.WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 5);
        dial.Stdin.Close();
        accept.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        var stats = Assert.Single(dial.Stderr, l => l.StartsWith("stats: ", StringComparison.Ordinal));
        Assert.StartsWith($"stats: path relayed {relayAddress} via_relay ", stats, StringComparison.Ordinal);
        var viaRelay = long.Parse(stats.Split(' ')[5], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(viaRelay > 1024 * 1024, stats); // sent plus received: the payload and the acknowledgements
        Assert.Equal(0, StatsDirectBytes(stats));
        GC.KeepAlive(relay);
    }

    [Fact]
    public void Dialing_a_NodeId_the_relay_does_not_know_fails_cleanly_within_the_timeout()
    {
        var (_, relayId) = StartRelay(out var relayAddress);
        var (aKey, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var stranger = NodeIdentity.Generate().NodeId.ToString();
        var clock = Stopwatch.StartNew();

        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--timeout", "3s", stranger);

        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(20)), dial.AllStderr);
        Assert.Equal(1, dial.ExitCode);
        Assert.Contains(stranger, dial.AllStderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void A_process_whose_key_a_newer_one_registered_at_the_relay_exits_1_saying_so_proxy_and_accept_alike()
    {
        var (_, relayId) = StartRelay(out var relayAddress);
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "shared");
        var allowed = NodeIdentity.Generate().NodeId.ToString();
        var proxy = Peer("proxy", "--http", CliTestKit.FreeTcpPort().ToString(CultureInfo.InvariantCulture), "--relay", relayAddress, "--key", key, "--relay-id", relayId);
        Assert.True(proxy.WaitForStderr(l => l.StartsWith("HTTP proxy on", StringComparison.Ordinal), Startup), proxy.AllStderr);

        // The same key again: the newer process takes the relay's routes; the older one, a service that would
        // otherwise run on where nobody can reach it, stops and says why.
        var accept = Peer("accept", "--relay", relayAddress, "--key", key, "--relay-id", relayId, "--allow", allowed);
        Assert.True(proxy.WaitForExit(Startup), "proxy did not exit: " + proxy.AllStderr);
        Assert.Equal(1, proxy.ExitCode);
        AssertSaysReplaced(proxy, "proxy");
        Assert.False(accept.HasExited, accept.AllStderr);

        // A netcat command waiting for its peer is no different.
        var expose = Peer("expose", "9", "--relay", relayAddress, "--key", key, "--relay-id", relayId, "--allow", allowed);
        Assert.True(accept.WaitForExit(Startup), "accept did not exit: " + accept.AllStderr);
        Assert.Equal(1, accept.ExitCode);
        AssertSaysReplaced(accept, "accept");
        Assert.False(expose.HasExited, expose.AllStderr);

        static void AssertSaysReplaced(PeerProcess process, string command)
        {
            var line = process.Stderr.SingleOrDefault(l => l.StartsWith($"quicpipe {command}: ", StringComparison.Ordinal));
            Assert.True(line is not null, process.AllStderr);
            Assert.Contains("Another process with this NodeId", line, StringComparison.Ordinal);
            Assert.Contains("registered at relay 127.0.0.1:", line, StringComparison.Ordinal);
            Assert.Contains("from 127.0.0.1:", line, StringComparison.Ordinal);
            Assert.Contains("quicpipe keygen", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_unreachable_relay_is_a_clear_error_within_the_timeout()
    {
        var (aKey, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var nobody = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";

        var dial = Peer("dial", "--relay", nobody, "--key", aKey, "--timeout", "2s", NodeIdentity.Generate().NodeId.ToString());

        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(20)), dial.AllStderr);
        Assert.Equal(1, dial.ExitCode);
        Assert.Contains($"Relay {nobody} did not answer", dial.AllStderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_peer_that_is_not_allowed_is_refused_and_told_so()
    {
        var (_, relayId) = StartRelay(out var relayAddress);
        var (aKey, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--allow", NodeIdentity.Generate().NodeId.ToString());
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);

        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--timeout", "5s", bId);

        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(30)), dial.AllStderr);
        Assert.Equal(1, dial.ExitCode);
        Assert.Contains("refused", dial.AllStderr, StringComparison.Ordinal);
        Assert.False(accept.HasExited, "a refused dial must not end the accepter");
    }

    [Fact]
    public async Task Without_signalling_an_offer_carried_by_hand_sets_up_the_dial()
    {
        var (_, relayId) = StartRelay(out var relayAddress);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var offerFile = Path.Combine(_scratch.Directory, "offer.txt");
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--offer-out", offerFile, bId);
        Assert.True(SpinWait.SpinUntil(() => File.Exists(offerFile) || dial.HasExited, Startup), dial.AllStderr);
        Assert.StartsWith($"qpo1.{aId}.", await File.ReadAllTextAsync(offerFile), StringComparison.Ordinal);

        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--offer-in", "@" + offerFile);
        var forward = CliTestKit.WriteRandomAsync(dial.Stdin, 64 * 1024, seed: 3);
        var backward = CliTestKit.WriteRandomAsync(accept.Stdin, 64 * 1024, seed: 4);

        var sentForward = await forward;
        var sentBackward = await backward;
        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(sentForward, accept.StdoutSha256());
        Assert.Equal(sentBackward, dial.StdoutSha256());
    }

    [Fact]
    public async Task A_relay_restarted_mid_session_is_re_registered_with_and_the_connection_carries_on()
    {
        var port = CliTestKit.FreeUdpPort();
        var relayAddress = $"127.0.0.1:{port}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = StartRelayProcess(relayAddress, relayKey);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--allow", aId, "--log-level", "Information");
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--log-level", "Information", "--relay-only", bId);
        using var forward = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        await CliTestKit.WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 5);
        Assert.True(SpinWait.SpinUntil(() => accept.StdoutBytes == 1024 * 1024, Transfer), accept.AllStderr);

        relay.Dispose();
        relay = StartRelayProcess(relayAddress, relayKey);
        Assert.True(dial.WaitForStderr(l => Count(dial, "Registered with relay") >= 2, Transfer), dial.AllStderr);
        Assert.True(accept.WaitForStderr(l => Count(accept, "Registered with relay") >= 2, Transfer), accept.AllStderr);

        await CliTestKit.WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 6);
        dial.Stdin.Close();
        accept.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(2L * 1024 * 1024, accept.StdoutBytes);
        Assert.Equal(forward.GetCurrentHash(), accept.StdoutSha256());
        GC.KeepAlive(relay);
    }

    /// <summary>The direct byte count of a <c>stats:</c> line ("... via_relay N direct N rtt ..."), or -1 for other lines.</summary>
    private static long StatsDirectBytes(string line)
    {
        var words = line.Split(' ');
        var at = Array.IndexOf(words, "direct", 3);
        return line.StartsWith("stats: ", StringComparison.Ordinal) && at > 0 && long.TryParse(words[at + 1], out var bytes) ? bytes : -1;
    }

    private static int Count(PeerProcess process, string text) => process.Stderr.Count(l => l.Contains(text, StringComparison.Ordinal));

    private (RelayProcess Relay, string RelayId) StartRelay(out string relayAddress)
    {
        relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "relay");
        return (StartRelayProcess(relayAddress, key), id);
    }

    private RelayProcess StartRelayProcess(string address, string key)
    {
        var relay = RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0");
        _scratch.Own(relay);
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return relay;
    }

    private PeerProcess Peer(params string[] args)
    {
        var process = PeerProcess.Start(args);
        _scratch.Own(process);
        return process;
    }
}
