using System.Diagnostics;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe mesh</c> and the peer commands' <c>--neighbor</c> / <c>--no-circuit</c>, as processes on loopback
/// with a real relay (docs/circuits.md).
/// </summary>
public sealed class MeshCommandTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly CliScratch _scratch = new("quicpipe-mesh-");

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void Mesh_without_a_neighbor_is_a_usage_error()
    {
        var (key, _) = CliTestKit.Identity(_scratch.Directory, "m");

        var (exitCode, _, stderr) = RelayProcess.Run(Startup, "mesh", "--relay", "127.0.0.1:9", "--key", key);

        Assert.Equal(2, exitCode);
        Assert.Contains("--neighbor", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dial_nobody_can_reach_fails_as_unreachable_through_the_mesh_in_one_line_and_no_circuit_skips_the_mesh()
    {
        var relayAddress = $"127.0.0.1:{CliTestKit.FreeUdpPort()}";
        var (relayKey, relayId) = CliTestKit.Identity(_scratch.Directory, "relay");
        var relay = _scratch.Own(RelayProcess.Start("relay", "--listen", relayAddress, "--key", relayKey, "--threads", "1", "--stats-interval", "0"));
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        var (aKey, aId) = CliTestKit.Identity(_scratch.Directory, "a");
        var (bKey, bId) = CliTestKit.Identity(_scratch.Directory, "b");
        var (cKey, cId) = CliTestKit.Identity(_scratch.Directory, "c");
        var b = Peer("mesh", "--relay", relayAddress, "--key", bKey, "--relay-id", relayId, "--neighbor", aId, "--neighbor", cId);
        var c = Peer("mesh", "--relay", relayAddress, "--key", cKey, "--relay-id", relayId, "--neighbor", bId);
        Assert.True(b.WaitForStderr(l => l.StartsWith("routing as", StringComparison.Ordinal), Startup), b.AllStderr);
        Assert.True(c.WaitForStderr(l => l.StartsWith("routing as", StringComparison.Ordinal), Startup), c.AllStderr);
        var stranger = NodeIdentity.Generate().NodeId.ToString();

        var clock = Stopwatch.StartNew();
        var dial = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--neighbor", bId, stranger);
        Assert.True(dial.WaitForExit(TimeSpan.FromSeconds(60)), dial.AllStderr);

        Assert.Equal(1, dial.ExitCode);
        var line = Assert.Single(dial.Stderr);
        Assert.Contains(stranger, line, StringComparison.Ordinal);
        Assert.Contains("no circuit either", line, StringComparison.Ordinal);
        Assert.Contains("unreachable", line, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");

        var direct = Peer("dial", "--relay", relayAddress, "--key", aKey, "--relay-id", relayId, "--neighbor", bId, "--no-circuit", stranger);
        Assert.True(direct.WaitForExit(TimeSpan.FromSeconds(60)), direct.AllStderr);
        Assert.Equal(1, direct.ExitCode);
        var only = Assert.Single(direct.Stderr);
        Assert.Contains(stranger, only, StringComparison.Ordinal);
        Assert.DoesNotContain("circuit", only, StringComparison.Ordinal);
        Assert.False(b.HasExited, b.AllStderr);
        Assert.False(c.HasExited, c.AllStderr);
    }

    private PeerProcess Peer(params string[] args) => _scratch.Own(PeerProcess.Start(args));
}
