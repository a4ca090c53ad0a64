using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// Peer commands given <c>--relay</c> more than once (docs/configuration.md, "Several relays"): real relay processes
/// on loopback, the peers as a user runs them.
/// </summary>
public sealed class SeveralRelaysCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(120);
    private readonly CliScratch _scratch = new("quicpipe-relays-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Dial_with_two_relays_reaches_a_peer_registered_only_at_the_second_and_says_so_in_its_path_line()
    {
        var (_, r1Id, r1) = StartRelay("r1");
        var (_, r2Id, r2) = StartRelay("r2");
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var accept = Peer("accept", "--relay", r2, "--relay-id", r2Id, "--key", bKey, "--allow", aId, "--relay-only");
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer("dial", "--relay", r1, "--relay", r2, "--relay-id", r1Id, "--relay-id", r2Id, "--key", aKey, "--relay-only", bId);

        using var forward = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 1);
        dial.Stdin.Close();
        accept.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.Equal(1024L * 1024, accept.StdoutBytes);
        Assert.Equal(forward.GetCurrentHash(), accept.StdoutSha256());
        var path = Assert.Single(dial.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal));
        Assert.StartsWith($"path: relayed {r2} rtt ", path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_relay_killed_mid_transfer_hands_the_connection_to_the_other_relay_and_the_transfer_completes()
    {
        var (r1Process, r1Id, r1) = StartRelay("r1");
        var (_, r2Id, r2) = StartRelay("r2");
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        // A peer timeout well beyond the move's few seconds, so that a loaded machine cannot make it a lost connection.
        string[] relays = ["--relay", r1, "--relay", r2, "--relay-id", r1Id, "--relay-id", r2Id, "--relay-only", "--log-level", "Information", "--peer-timeout", "15s"];
        var accept = Peer(["accept", .. relays, "--key", bKey, "--allow", aId]);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var dial = Peer(["dial", .. relays, "--key", aKey, bId]);
        using var forward = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        await WriteChunkAsync(dial.Stdin, forward, 1024 * 1024, seed: 2);
        Assert.True(SpinWait.SpinUntil(() => accept.StdoutBytes == 1024 * 1024, Transfer), accept.AllStderr);
        r1Process.Signal(RelayProcess.SigKill);
        Assert.True(r1Process.WaitForExit(Startup));

        // Written after R1 died: these bytes can only cross through R2.
        await WriteChunkAsync(dial.Stdin, forward, 4 * 1024 * 1024, seed: 3);
        Assert.True(SpinWait.SpinUntil(() => accept.StdoutBytes == 5 * 1024 * 1024, Transfer), dial.AllStderr + "\n---\n" + accept.AllStderr);
        dial.Stdin.Close();
        accept.Stdin.Close();

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(forward.GetCurrentHash(), accept.StdoutSha256());

        // One connection throughout: it started on R1 and moved (a path change, not a new connection) to R2.
        var paths = dial.Stderr.Where(l => l.StartsWith("path: ", StringComparison.Ordinal)).ToList();
        Assert.True(paths.Count == 2, dial.AllStderr);
        Assert.StartsWith($"path: relayed {r1} rtt ", paths[0], StringComparison.Ordinal);
        Assert.StartsWith($"path: relayed {r2} rtt ", paths[1], StringComparison.Ordinal);
        Assert.Contains(dial.Stderr, l => l.Contains($"Relay {r1} lost: the connection to {bId} moves to relay {r2}", StringComparison.Ordinal));
        Assert.Contains(accept.Stderr, l => l.StartsWith($"path: relayed {r2} rtt ", StringComparison.Ordinal));
    }

    [Fact]
    public void Dialing_a_NodeId_neither_relay_knows_exits_1_with_one_line_naming_both()
    {
        var (_, r1Id, r1) = StartRelay("r1");
        var (_, r2Id, r2) = StartRelay("r2");
        var (aKey, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var stranger = NodeIdOf("stranger");

        var dial = Peer("dial", "--relay", r1, "--relay", r2, "--relay-id", r1Id, "--relay-id", r2Id, "--key", aKey, "--timeout", "3s", stranger);

        Assert.True(dial.WaitForExit(Transfer), dial.AllStderr);
        Assert.Equal(1, dial.ExitCode);
        var line = Assert.Single(dial.Stderr);
        Assert.Contains($"Cannot reach {stranger} through any of our 2 relays (relay {r1}: ", line, StringComparison.Ordinal);
        Assert.Contains($"; relay {r2}: ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dial")]
    [InlineData("accept")]
    [InlineData("expose")]
    public void The_same_relay_twice_is_a_one_line_usage_error(string command)
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "a");
        string[] rest = command switch
        {
            "dial" => [NodeIdOf("b")],
            "expose" => ["8080", "--allow", NodeIdOf("b")],
            _ => [],
        };

        var (exitCode, _, stderr) = RelayProcess.Run(Startup, [command, "--relay", "127.0.0.1:4433", "--relay", "127.0.0.1:4433", "--key", key, .. rest]);

        Assert.Equal(2, exitCode);
        Assert.Equal($"quicpipe {command}: --relay: 127.0.0.1:4433 is given twice: list each relay once.", stderr.Trim());
    }

    [Fact]
    public void Relay_ids_that_do_not_match_the_relays_one_for_one_are_a_one_line_usage_error()
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "a");
        var id = NodeIdOf("relay");

        var (exitCode, _, stderr) = RelayProcess.Run(Startup, "dial", "--relay", "127.0.0.1:4433", "--relay", "127.0.0.1:4434", "--relay-id", id, "--key", key, NodeIdOf("b"));

        Assert.Equal(2, exitCode);
        Assert.Equal("quicpipe dial: --relay-id: 1 given for 2 relays (--relay): give one per relay, in the same order, or none.", stderr.Trim());
    }

    private string NodeIdOf(string name) => CliTestKit.Identity(_scratch.Directory, name).NodeId;

    private (RelayProcess Process, string Id, string Address) StartRelay(string name)
    {
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, name);
        var relay = RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0");
        _scratch.Own(relay);
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (relay, id, address);
    }

    private PeerProcess Peer(params string[] args)
    {
        var process = PeerProcess.Start(args);
        _scratch.Own(process);
        return process;
    }

    private static async Task WriteChunkAsync(Stream stdin, IncrementalHash hash, long total, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[256 * 1024];
        for (long sent = 0; sent < total; sent += buffer.Length)
        {
            var length = (int)Math.Min(buffer.Length, total - sent);
            random.NextBytes(buffer.AsSpan(0, length));
            hash.AppendData(buffer, 0, length);
            await stdin.WriteAsync(buffer.AsMemory(0, length));
        }

        await stdin.FlushAsync();
    }
}
