using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// A dial whose handshake loses its first packets: relay, accepter and dialer run in a network namespace of the
/// test's own, where nft drops every datagram that starts with a QUIC Initial to or from the accepter for the first
/// 6 s of the dial. QUIC retransmits the dialer's Initial at 1, 3 and 7 s: the one at 7 s gets through, after the
/// 6 s that the QUIC idle timeout was when it doubled as the peer timeout (the handshake then ended at 6 s).
/// </summary>
public sealed partial class LossyHandshakeTests : IDisposable
{
    private const int RelayPort = 4433;
    private const string Table = "qploss";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DropFor = TimeSpan.FromSeconds(6);
    private readonly CliScratch _scratch = new("quicpipe-lossy-");

    public void Dispose() => _scratch.Dispose();

    [RootFact]
    public void A_dial_whose_Initials_are_dropped_for_6_s_connects_within_its_timeout()
    {
        using var ns = new TestNamespace("qplossy");
        var relayKey = CliTestKit.Identity(_scratch.Directory, "relay");
        var a = CliTestKit.Identity(_scratch.Directory, "a");
        var b = CliTestKit.Identity(_scratch.Directory, "b");
        var relayAddress = $"127.0.0.1:{RelayPort}";
        var relay = Start(ns, "relay", "--listen", relayAddress, "--key", relayKey.KeyFile, "--threads", "1");
        Assert.True(relay.WaitForStderr(l => l.Contains("Relay running", StringComparison.Ordinal), Startup), relay.AllStderr);
        string[] common = ["--relay", relayAddress, "--relay-id", relayKey.NodeId, "--relay-only", "--log-level", "Information"];
        var accept = Start(ns, ["accept", "--key", b.KeyFile, "--allow", a.NodeId, "--hello", .. common]);
        Assert.True(accept.WaitForStderr(l => l.StartsWith("accepting as", StringComparison.Ordinal), Startup), accept.AllStderr);
        var accepterPort = AccepterPort().Match(string.Join('\n', accept.Stderr)).Groups[1].Value;

        // The accepter's control connection is established by now (short headers only): the Initials to and from
        // its port from now on are the dial's. Both ways, so that the window never ends inside a handshake.
        Nft(ns, "add", "table", "inet", Table);
        Nft(ns, "add", "chain", "inet", Table, "out", "{ type filter hook output priority 0; }");
        Nft(ns, "add", "rule", "inet", Table, "out", "udp", "dport", accepterPort, "@th,64,8", "&", "0xf0", "==", "0xc0", "counter", "drop");
        Nft(ns, "add", "rule", "inet", Table, "out", "udp", "sport", accepterPort, "@th,64,8", "&", "0xf0", "==", "0xc0", "counter", "drop");
        var clock = Stopwatch.StartNew();
        var dial = Start(ns, ["dial", "--key", a.KeyFile, .. common, "--hello", b.NodeId]);
        Thread.Sleep(DropFor);
        var dropped = Nft(ns, "list", "table", "inet", Table);
        Nft(ns, "delete", "table", "inet", Table);

        Assert.True(dial.WaitForStderr(l => l.StartsWith("path: relayed", StringComparison.Ordinal), Startup), dial.AllStderr + "\n" + accept.AllStderr);
        var connected = clock.Elapsed;
        Assert.True(long.Parse(DroppedPackets().Match(dropped).Groups[1].Value, CultureInfo.InvariantCulture) >= 2, "nft dropped no Initial: " + dropped);
        Assert.True(connected > DropFor, $"connected after {connected.TotalSeconds:0.0} s, while Initials were still dropped: {dropped}");

        // Within --timeout (10 s) of the handshake's start, with start-up and signalling to spare.
        Assert.True(connected < TimeSpan.FromSeconds(13), $"connected after {connected.TotalSeconds:0.0} s\n{dial.AllStderr}");

        // And the connection carries data both ways.
        Assert.True(SpinWait.SpinUntil(() => dial.StdoutBytes > 0 && accept.StdoutBytes > 0, Startup), dial.AllStderr + "\n" + accept.AllStderr);
        Assert.False(dial.HasExited, dial.AllStderr);
    }

    private static string Nft(TestNamespace ns, params string[] args) => NetworkLab.Run("ip", ["netns", "exec", ns.Name, "nft", .. args]);

    private PeerProcess Start(TestNamespace ns, params string[] args) => _scratch.Own(PeerProcess.StartIn(ns.Name, args));

    [GeneratedRegex(@"public address 127\.0\.0\.1:(\d+)")]
    private static partial Regex AccepterPort();

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex DroppedPackets();
}
