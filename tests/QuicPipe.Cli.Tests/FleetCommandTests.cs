using System.Diagnostics;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The relay fleet (docs/fleet.md) as an operator runs it on loopback: Debian's etcd, three <c>quicpipe relay
/// --directory</c> processes, and peers that each know only their own relay dialing each other by NodeId.
/// </summary>
public sealed class FleetCommandTests : IDisposable
{
    private const int TransferBytes = 16 * 1024 * 1024;
    private const string Prefix = "/quicpipe/";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(120);
    private readonly CliScratch _scratch = new("quicpipe-fleet-");

    public void Dispose() => _scratch.Dispose();

    [RequiresEtcdFact]
    public async Task Peers_at_different_relays_dial_by_NodeId_across_a_directory_restart_and_a_clean_stop_leaves_nothing()
    {
        using var etcd = new EtcdServer(_scratch.Directory);
        var relays = Enumerable.Range(1, 3).Select(i => StartRelay(etcd, $"relay{i}")).ToArray();

        // A at relay 1 dials B at relay 2: A's packets go to relay 1 only, which forwards them to relay 2.
        await TransferAsync(etcd, dialer: relays[0], accepter: relays[1], "a", "b");

        // The directory goes away: relays keep serving, and a cross-relay dial fails with a line that says why.
        etcd.Stop();
        var (cKey, cId) = CliTestKit.Identity(_scratch.Directory, "c");
        var (dKey, dId) = CliTestKit.Identity(_scratch.Directory, "d");
        foreach (var relay in relays)
        {
            Assert.True(relay.Process.WaitForStderr(l => l.Contains("unreachable", StringComparison.Ordinal), Startup), relay.Process.AllStderr);
        }

        var refused = Peer("dial", "--relay", relays[0].Address, "--key", dKey, "--relay-id", relays[0].Id, "--relay-only", cId);
        refused.Stdin.Close();
        Assert.True(refused.WaitForExit(Transfer), refused.AllStderr);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains(refused.Stderr, l => l.StartsWith("quicpipe dial:", StringComparison.Ordinal) && l.Contains("directory", StringComparison.Ordinal) && l.Contains("unreachable", StringComparison.Ordinal));

        // Back on the same data: the relays publish everything again, and a new cross-relay dial (relay 3 to relay 1) works.
        var servingBefore = relays.Select(r => Count(r.Process, "serving,")).ToArray();
        etcd.Start();
        for (var i = 0; i < relays.Length; i++)
        {
            var relay = relays[i];
            var before = servingBefore[i];
            Assert.True(SpinWait.SpinUntil(() => Count(relay.Process, "serving,") > before, Startup), relay.Process.AllStderr);
        }

        await TransferAsync(etcd, dialer: relays[2], accepter: relays[0], "c", "d");

        // A clean stop revokes each relay's lease: nothing of the fleet is left in the directory.
        Assert.NotEmpty(etcd.Keys(Prefix));
        foreach (var relay in relays)
        {
            relay.Process.Signal(RelayProcess.SigTerm);
        }

        foreach (var relay in relays)
        {
            Assert.True(relay.Process.WaitForExit(Startup), relay.Process.AllStderr);
            Assert.Equal(0, relay.Process.ExitCode);
        }

        Assert.Empty(etcd.Keys(Prefix));
    }

    [RequiresEtcdFact]
    public void A_relay_killed_with_SIGKILL_leaves_the_directory_within_10_s()
    {
        using var etcd = new EtcdServer(_scratch.Directory);
        var relay = StartRelay(etcd, "relay");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", relay.Address, "--key", bKey, "--relay-id", relay.Id, "--allow", bId);
        Assert.True(SpinWait.SpinUntil(() => etcd.Keys(Prefix).Contains($"{Prefix}nodes/{bId}/{relay.Id}"), Startup), string.Join('\n', etcd.Keys(Prefix)));
        Assert.Contains($"{Prefix}relays/{relay.Id}", etcd.Keys(Prefix));

        var killed = Stopwatch.StartNew();
        relay.Process.Signal(9);
        Assert.True(relay.Process.WaitForExit(Startup));
        Assert.True(SpinWait.SpinUntil(() => !etcd.Keys(Prefix).Any(k => k.Contains(relay.Id, StringComparison.Ordinal)), TimeSpan.FromSeconds(20)), string.Join('\n', etcd.Keys(Prefix)));
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(10), $"the killed relay's keys went after {killed.Elapsed.TotalSeconds:0.0} s");
        GC.KeepAlive(accept);
    }

    [RequiresEtcdFact]
    public async Task A_relay_killed_mid_transfer_hands_a_cross_relay_connection_to_another_relay_of_the_fleet()
    {
        using var etcd = new EtcdServer(_scratch.Directory);
        var relays = Enumerable.Range(1, 3).Select(i => StartRelay(etcd, $"relay{i}")).ToArray();
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");

        // B knows only relay 3; A lists relays 1 and 2 and dials through relay 1, which forwards to relay 3.
        var accept = Peer("accept", "--relay", relays[2].Address, "--key", bKey, "--relay-id", relays[2].Id, "--relay-only", "--allow", aId, "--peer-timeout", "15s");
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        Assert.True(SpinWait.SpinUntil(() => etcd.Keys(Prefix).Contains($"{Prefix}nodes/{bId}/{relays[2].Id}"), Startup), string.Join('\n', etcd.Keys(Prefix)));
        var dial = Peer(
            "dial", "--relay", relays[0].Address, "--relay", relays[1].Address, "--relay-id", relays[0].Id, "--relay-id", relays[1].Id,
            "--key", aKey, "--relay-only", "--log-level", "Information", "--peer-timeout", "15s", bId);

        using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await WriteToDialAsync(4 * 1024 * 1024, seed: 5);
        Assert.True(SpinWait.SpinUntil(() => accept.StdoutBytes == 4 * 1024 * 1024, Transfer), dial.AllStderr + "\n---\n" + accept.AllStderr);
        relays[0].Process.Signal(RelayProcess.SigKill);
        Assert.True(relays[0].Process.WaitForExit(Startup));

        // Written after relay 1 died: these bytes can only cross relay 2, which relay 3 must now be forwarding to.
        await WriteToDialAsync(TransferBytes - (4 * 1024 * 1024), seed: 6);

        dial.Stdin.Close();
        accept.Stdin.Close();
        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr + "\n---\n" + accept.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(TransferBytes, accept.StdoutBytes);
        Assert.Equal(sent.GetCurrentHash(), accept.StdoutSha256());

        // The same connection throughout: A's path moved from relay 1 to relay 2; B's stayed on relay 3.
        var paths = dial.Stderr.Where(l => l.StartsWith("path: ", StringComparison.Ordinal)).ToList();
        Assert.True(paths.Count == 2, dial.AllStderr);
        Assert.StartsWith($"path: relayed {relays[0].Address} rtt ", paths[0], StringComparison.Ordinal);
        Assert.StartsWith($"path: relayed {relays[1].Address} rtt ", paths[1], StringComparison.Ordinal);
        Assert.Contains(dial.Stderr, l => l.Contains($"moves to relay {relays[1].Address}", StringComparison.Ordinal));
        Assert.Single(accept.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal));

        async Task WriteToDialAsync(long bytes, int seed)
        {
            try
            {
                await CliTestKit.WriteChunkAsync(dial.Stdin, sent, bytes, seed);
            }
            catch (IOException e)
            {
                Assert.Fail($"dial stopped reading its input ({e.Message}): {dial.AllStderr}\n---\n{accept.AllStderr}");
            }
        }
    }

    [Fact]
    public async Task A_relay_whose_directory_is_down_from_the_start_serves_its_own_peers_and_says_so()
    {
        var nothing = $"etcd://127.0.0.1:{CliTestKit.FreeTcpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, "relay");
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var relay = RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0", "--directory", nothing);
        _scratch.Own(relay);
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        Assert.True(relay.WaitForStderr(l => l.Contains("unreachable", StringComparison.Ordinal) && l.Contains("local peers are still served", StringComparison.Ordinal), Startup), relay.AllStderr);

        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", address, "--key", bKey, "--relay-id", id, "--relay-only", "--allow", aId);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", address, "--key", aKey, "--relay-id", id, "--relay-only", bId);
        accept.Stdin.Close();
        var sent = await CliTestKit.WriteRandomAsync(dial.Stdin, 1024 * 1024, seed: 3);
        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.Equal(sent, accept.StdoutSha256());
    }

    [Fact]
    public void A_nats_directory_is_refused_in_one_line_and_so_is_a_wildcard_address_other_relays_cannot_reach()
    {
        var (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "127.0.0.1:0", "--directory", "nats://127.0.0.1:4222");
        Assert.Equal(2, code);
        Assert.Contains("nats:// directories are not supported in this build; use etcd://HOST:PORT", stderr, StringComparison.Ordinal);

        (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--listen", "0.0.0.0:0", "--directory", "etcd://127.0.0.1:2379");
        Assert.Equal(2, code);
        Assert.Contains("--public-address", stderr, StringComparison.Ordinal);

        (code, _, stderr) = RelayProcess.Run(Startup, "relay", "--directory", "etcd://127.0.0.1");
        Assert.Equal(2, code);
        Assert.Contains("give the etcd client port", stderr, StringComparison.Ordinal);
    }

    /// <summary>A 16 MiB byte-exact transfer from a peer at <paramref name="dialer"/> to one at <paramref name="accepter"/>, by NodeId only.</summary>
    private async Task TransferAsync(EtcdServer etcd, FleetRelay dialer, FleetRelay accepter, string from, string to)
    {
        var (fromKey, fromId) = CliTestKit.Identity(_scratch.Directory, from);
        var (toKey, toId) = CliTestKit.Identity(_scratch.Directory, to);
        var accept = Peer("accept", "--relay", accepter.Address, "--key", toKey, "--relay-id", accepter.Id, "--relay-only", "--allow", fromId);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        Assert.True(SpinWait.SpinUntil(() => etcd.Keys(Prefix).Contains($"{Prefix}nodes/{toId}/{accepter.Id}"), Startup), string.Join('\n', etcd.Keys(Prefix)));

        var dial = Peer("dial", "--relay", dialer.Address, "--key", fromKey, "--relay-id", dialer.Id, "--relay-only", toId);
        accept.Stdin.Close();
        var sent = await CliTestKit.WriteRandomAsync(dial.Stdin, TransferBytes, seed: from.GetHashCode(StringComparison.Ordinal));
        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(TransferBytes, accept.StdoutBytes);
        Assert.Equal(sent, accept.StdoutSha256());

        // Each peer's path names its own relay: the hop between the relays is theirs.
        Assert.Contains(dial.Stderr, l => l.StartsWith($"path: relayed {dialer.Address}", StringComparison.Ordinal));
        Assert.Contains(accept.Stderr, l => l.StartsWith($"path: relayed {accepter.Address}", StringComparison.Ordinal));
    }

    private FleetRelay StartRelay(EtcdServer etcd, string name)
    {
        var (key, id) = CliTestKit.Identity(_scratch.Directory, name);
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var relay = RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0", "--directory", etcd.Url);
        _scratch.Own(relay);
        Assert.True(relay.WaitForStderr(l => l.Contains("serving,", StringComparison.Ordinal), Startup), relay.AllStderr);
        return new FleetRelay(relay, address, id);
    }

    private PeerProcess Peer(params string[] args)
    {
        var process = PeerProcess.Start(args);
        _scratch.Own(process);
        return process;
    }

    private static int Count(RelayProcess process, string text) => process.Stderr.Count(l => l.Contains(text, StringComparison.Ordinal));

    private sealed record FleetRelay(RelayProcess Process, string Address, string Id);
}
