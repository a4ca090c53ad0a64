using System.Diagnostics;
using System.Security.Cryptography;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// A circuit between <c>quicpipe dial</c> and <c>accept</c> whose middle node (a <c>quicpipe mesh</c> process) is
/// killed with SIGKILL mid-transfer, while a second path exists: the transfer goes on over it (docs/circuits.md,
/// "Re-route"), as real processes on loopback with two real relays.
/// </summary>
public sealed class CircuitRerouteCommandTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Transfer = TimeSpan.FromSeconds(120);
    private const int Size = 32 * 1024 * 1024;
    private readonly CliScratch _scratch = new("quicpipe-reroute-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Killing_the_middle_node_mid_transfer_reroutes_through_the_other_and_dial_and_accept_finish_byte_exact_with_exit_0()
    {
        // Relay islands: A only on R1, D only on R2, so A reaches D only through B or C (mesh nodes on both relays).
        var (r1, r1Id) = StartRelay("r1");
        var (r2, r2Id) = StartRelay("r2");
        var (aKey, a) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, b) = CliTestKit.Identity(_scratch.Directory, "b");
        var (cKey, c) = CliTestKit.Identity(_scratch.Directory, "c");
        var (dKey, d) = CliTestKit.Identity(_scratch.Directory, "d");
        var mesh = new Dictionary<string, PeerProcess>
        {
            [b] = Peer("mesh", "--relay", r1, "--relay", r2, "--key", bKey, "--relay-id", r1Id, "--relay-id", r2Id, "--neighbor", a, "--neighbor", d, "--log-level", "Information"),
            [c] = Peer("mesh", "--relay", r1, "--relay", r2, "--key", cKey, "--relay-id", r1Id, "--relay-id", r2Id, "--neighbor", a, "--neighbor", d, "--log-level", "Information"),
        };
        var accept = Peer("accept", "--relay", r2, "--key", dKey, "--relay-id", r2Id, "--allow", a, "--neighbor", b, "--neighbor", c);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        foreach (var node in mesh.Values)
        {
            Assert.True(node.WaitForStderr(l => l.Contains($"Mesh link to {d} up", StringComparison.Ordinal), Startup), node.AllStderr);
        }

        var dial = Peer("dial", "--relay", r1, "--key", aKey, "--relay-id", r1Id, "--neighbor", b, "--neighbor", c, d);
        var forward = RandomNumberGenerator.GetBytes(Size);
        var backward = RandomNumberGenerator.GetBytes(Size);

        // A quarter each way, then the middle node dies with the rest still to send.
        await dial.Stdin.WriteAsync(forward.AsMemory(0, Size / 4));
        await accept.Stdin.WriteAsync(backward.AsMemory(0, Size / 4));
        var deadline = DateTime.UtcNow + Transfer;
        while ((accept.StdoutBytes < Size / 8 || dial.StdoutBytes < Size / 8) && DateTime.UtcNow < deadline && !dial.HasExited && !accept.HasExited)
        {
            await Task.Delay(50);
        }

        Assert.True(accept.StdoutBytes >= Size / 8 && dial.StdoutBytes >= Size / 8, dial.AllStderr + "\n" + accept.AllStderr);
        var firstLine = Assert.Single(dial.Stderr, l => l.StartsWith("path: circuit via ", StringComparison.Ordinal));
        var middle = firstLine["path: circuit via ".Length..firstLine.IndexOf(" rtt ", StringComparison.Ordinal)];
        var other = middle == b ? c : b;
        Assert.Contains(middle, new[] { b, c });
        var killed = Stopwatch.StartNew();
        mesh[middle].KillAbruptly();

        var rest = Task.WhenAll(WriteAndCloseAsync(dial.Stdin, forward.AsMemory(Size / 4)), WriteAndCloseAsync(accept.Stdin, backward.AsMemory(Size / 4)));
        Assert.True(dial.WaitForStderr(l => l.StartsWith($"path: circuit via {other} rtt ", StringComparison.Ordinal), TimeSpan.FromSeconds(30)), dial.AllStderr);
        var rerouteTook = killed.Elapsed;
        await rest;

        Assert.True(dial.WaitForExit(Transfer), "dial did not finish: " + dial.AllStderr);
        Assert.True(accept.WaitForExit(Transfer), "accept did not finish: " + accept.AllStderr);
        Assert.True(dial.ExitCode == 0, dial.AllStderr);
        Assert.True(accept.ExitCode == 0, accept.AllStderr);
        Assert.Equal(SHA256.HashData(forward), accept.StdoutSha256());
        Assert.Equal(SHA256.HashData(backward), dial.StdoutSha256());

        // The path line twice at each end, in the exact format: first through the dead node, then round it.
        var dialPaths = dial.Stderr.Where(l => l.StartsWith("path: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, dialPaths.Count);
        Assert.Matches($"^path: circuit via {middle} rtt [0-9.]+ms peer {d}$", dialPaths[0]);
        Assert.Matches($"^path: circuit via {other} rtt [0-9.]+ms peer {d}$", dialPaths[1]);
        var acceptPaths = accept.Stderr.Where(l => l.StartsWith("path: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, acceptPaths.Count);
        Assert.Matches($"^path: circuit via {middle} rtt [0-9.]+ms peer {a}$", acceptPaths[0]);
        Assert.Matches($"^path: circuit via {other} rtt [0-9.]+ms peer {a}$", acceptPaths[1]);
        Assert.DoesNotContain(dial.Stderr, l => l.Contains("circuit down", StringComparison.Ordinal));
        output.WriteLine($"the dial printed its second path line {rerouteTook.TotalMilliseconds:0} ms after the kill; finished {killed.Elapsed.TotalSeconds:0.0} s after it");
        Assert.True(rerouteTook < TimeSpan.FromSeconds(10), $"re-routed {rerouteTook} after the kill");
        Assert.False(mesh[other].HasExited, mesh[other].AllStderr);
    }

    private static async Task WriteAndCloseAsync(Stream stdin, ReadOnlyMemory<byte> bytes)
    {
        for (var sent = 0; sent < bytes.Length; sent += 256 * 1024)
        {
            await stdin.WriteAsync(bytes.Slice(sent, Math.Min(256 * 1024, bytes.Length - sent)));
        }

        stdin.Close();
    }

    private (string Address, string Id) StartRelay(string name)
    {
        var address = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, name);
        var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0"));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (address, id);
    }

    private PeerProcess Peer(params string[] args) => _scratch.Own(PeerProcess.Start(args));
}
