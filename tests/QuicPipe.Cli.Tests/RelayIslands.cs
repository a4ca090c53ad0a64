using System.Globalization;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// The relay islands of the circuit tests (docs/circuits.md): relays R1 and R2; A on R1 (neighbour B); B on R1 and R2
/// (A, C); C on R2 (B, D); D on R2 (C). No relay knows both A and D, so they reach each other only through the circuit
/// A-B-C-D. The relays and B and C (<c>quicpipe mesh</c>) run here; A and D are the test's own commands, started with
/// the keys and flags given here.
/// </summary>
internal sealed class RelayIslands
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private readonly CliScratch _scratch;

    private RelayIslands(CliScratch scratch, string? netns)
    {
        _scratch = scratch;
        Netns = netns;
        (AKey, A) = CliTestKit.Identity(scratch.Directory, "a");
        (BKey, B) = CliTestKit.Identity(scratch.Directory, "b");
        (CKey, C) = CliTestKit.Identity(scratch.Directory, "c");
        (DKey, D) = CliTestKit.Identity(scratch.Directory, "d");
    }

    /// <summary>Where the relays, B and C run: a network namespace, or null for the test's own (loopback).</summary>
    public string? Netns { get; }

    public string R1 { get; private set; } = string.Empty;

    public string R1Id { get; private set; } = string.Empty;

    public string R2 { get; private set; } = string.Empty;

    public string R2Id { get; private set; } = string.Empty;

    public string AKey { get; }

    public string A { get; }

    public string BKey { get; }

    public string B { get; }

    public string CKey { get; }

    public string C { get; }

    public string DKey { get; }

    public string D { get; }

    /// <summary>B and C, by name.</summary>
    public Dictionary<string, PeerProcess> Mesh { get; } = [];

    /// <summary>A's flags to join: R1 and its neighbour B.</summary>
    public string[] AFlags => ["--relay", R1, "--key", AKey, "--relay-id", R1Id, "--neighbor", B];

    /// <summary>D's flags to join: R2 and its neighbour C.</summary>
    public string[] DFlags => ["--relay", R2, "--key", DKey, "--relay-id", R2Id, "--neighbor", C];

    /// <summary>
    /// Starts the relays (on free loopback ports, or at <paramref name="r1"/> and <paramref name="r2"/>) and B and C,
    /// all in <paramref name="netns"/>, and returns once C's link to B carries cells.
    /// </summary>
    public static RelayIslands Start(CliScratch scratch, string? netns = null, string? r1 = null, string? r2 = null)
    {
        var lab = new RelayIslands(scratch, netns);
        (lab.R1, lab.R1Id) = lab.StartRelay("r1", r1);
        (lab.R2, lab.R2Id) = lab.StartRelay("r2", r2);
        lab.Mesh["B"] = lab.Run("mesh", "--relay", lab.R1, "--relay", lab.R2, "--key", lab.BKey, "--relay-id", lab.R1Id, "--relay-id", lab.R2Id, "--neighbor", lab.A, "--neighbor", lab.C, "--log-level", "Information");
        lab.Mesh["C"] = lab.Run("mesh", "--relay", lab.R2, "--key", lab.CKey, "--relay-id", lab.R2Id, "--neighbor", lab.B, "--neighbor", lab.D, "--log-level", "Information");
        lab.WaitForLink("C", lab.B);
        return lab;
    }

    /// <summary>D: accept on R2, A allowed, C its neighbour; returns once its link to C carries cells.</summary>
    public PeerProcess Accept()
    {
        var accept = Run(["accept", "--allow", A, .. DFlags]);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        WaitForLink("C", D);
        return accept;
    }

    /// <summary>Waits until mesh node <paramref name="node"/> (B or C) says its link to <paramref name="neighbor"/> is up.</summary>
    public void WaitForLink(string node, string neighbor) =>
        Assert.True(Mesh[node].WaitForStderr(l => l.Contains($"Mesh link to {neighbor} up", StringComparison.Ordinal), Startup), Mesh[node].AllStderr);

    /// <summary>Whether <paramref name="line"/> is the path line of a circuit through B and C to <paramref name="peer"/>.</summary>
    public bool IsCircuitLine(string line, string peer) =>
        line.StartsWith($"path: circuit via {B},{C} rtt ", StringComparison.Ordinal) && line.EndsWith($"ms peer {peer}", StringComparison.Ordinal);

    private (string Address, string Id) StartRelay(string name, string? address)
    {
        address ??= $"127.0.0.1:{CliTestKit.FreeUdpPort().ToString(CultureInfo.InvariantCulture)}";
        var (key, id) = CliTestKit.Identity(_scratch.Directory, name);
        var relay = Run("relay", "--listen", address, "--key", key, "--threads", "1", "--stats-interval", "0");
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        return (address, id);
    }

    private PeerProcess Run(params string[] args) => _scratch.Own(PeerProcess.StartIn(Netns, args));
}
