using System.Security.Cryptography;
using QuicPipe.Lab;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// <c>quicpipe vpn</c> across relay islands (<see cref="RelayIslands"/>): A's and D's VPNs reach each other only
/// through the circuit A-B-C-D. Each VPN needs a network namespace of its own (two TUN devices with the VPN's
/// addresses in one namespace would talk over loopback, not through the tunnel), so the test builds three: a hub
/// with the relays and the mesh nodes B and C, and A's and D's, each joined to the hub by a veth pair. Real ping and
/// a real TCP transfer (python sockets) cross the tunnel.
/// </summary>
public sealed class CircuitVpnTests : IDisposable
{
    private const string AddressA = "100.64.0.1";
    private const string AddressD = "100.64.0.2";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ToolLimit = TimeSpan.FromSeconds(90);

    // A TCP receiver: says when it listens, reads to EOF, prints the SHA-256 of what it read.
    private const string Receiver = """
        import hashlib, socket, sys
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((sys.argv[1], int(sys.argv[2])))
        listener.listen(1)
        print("listening", flush=True)
        connection, _ = listener.accept()
        connection.settimeout(60)
        digest = hashlib.sha256()
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            digest.update(chunk)
        print("received " + digest.hexdigest(), flush=True)
        """;

    private const string Sender = """
        import socket, sys
        connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
        connection.sendall(open(sys.argv[3], "rb").read())
        connection.shutdown(socket.SHUT_WR)
        connection.recv(1)
        """;

    private readonly CliScratch _scratch = new("quicpipe-circuit-vpn-");
    private readonly List<TestNamespace> _namespaces = [];

    public void Dispose()
    {
        // The processes first: their TUN devices go with them, then the namespaces.
        _scratch.Dispose();
        foreach (var ns in _namespaces)
        {
            ns.Dispose();
        }
    }

    [RootFact]
    public async Task A_and_D_vpns_on_different_relays_ping_and_carry_TCP_byte_exact_through_the_circuit_A_B_C_D()
    {
        var (lab, nsA, nsD) = StartIslands();
        var vpnA = Run(nsA, ["vpn", "--address", $"{AddressA}/24", "--peer", $"{lab.D}={AddressD}/32", .. lab.AFlags]);
        var vpnD = Run(nsD, ["vpn", "--address", $"{AddressD}/24", "--peer", $"{lab.A}={AddressA}/32", .. lab.DFlags]);
        foreach (var vpn in new[] { vpnA, vpnD })
        {
            Assert.True(vpn.WaitForStderr(l => l.StartsWith("vpn up: qp0 ", StringComparison.Ordinal), Startup), Logs(lab, vpnA, vpnD));
        }

        // Each side announces itself by dialing: no relay knows the other, so a circuit forms, and both ends say so.
        Assert.True(vpnA.WaitForStderr(l => IsCircuitLine(lab, l, lab.D), Startup), Logs(lab, vpnA, vpnD));
        Assert.True(vpnD.WaitForStderr(l => IsCircuitLine(lab, l, lab.A), Startup), Logs(lab, vpnA, vpnD));

        await PingAsync(nsA, AddressD, lab, vpnA, vpnD);
        await PingAsync(nsD, AddressA, lab, vpnA, vpnD);

        var sent = Path.Combine(_scratch.Directory, "sent");
        await File.WriteAllBytesAsync(sent, RandomNumberGenerator.GetBytes(4 * 1024 * 1024));
        using var receiver = LineProcess.Start("ip", "netns", "exec", nsD.Name, Python, "-c", Receiver, AddressD, "9000");
        Assert.True(receiver.WaitForStdout(l => l == "listening", Startup), receiver.AllStderr);
        var send = await ToolProcess.RunAsync("ip", ["netns", "exec", nsA.Name, Python, "-c", Sender, AddressD, "9000", sent], ToolLimit);
        Assert.True(send.ExitCode == 0, $"sender: {send.Stderr}\n{Logs(lab, vpnA, vpnD)}");
        Assert.True(receiver.WaitForStdout(l => l.StartsWith("received ", StringComparison.Ordinal), ToolLimit), receiver.AllStderr);
        Assert.Equal($"received {Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(sent)))}", receiver.Stdout.Single(l => l.StartsWith("received ", StringComparison.Ordinal)));

        // Only circuits: neither VPN ever had a relayed or direct path to the other.
        foreach (var vpn in new[] { vpnA, vpnD })
        {
            Assert.DoesNotContain(vpn.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal) && !l.StartsWith("path: circuit via ", StringComparison.Ordinal));
        }

        Assert.False(vpnA.HasExited || vpnD.HasExited, Logs(lab, vpnA, vpnD));
    }

    [RootFact]
    public void A_circuit_from_a_node_that_is_not_a_peer_of_D_s_vpn_is_refused_and_A_s_dial_fails_as_unreachable()
    {
        var (lab, nsA, nsD) = StartIslands();
        var stranger = NodeIdentity.Generate().NodeId.ToString();

        // D's VPN has a peer, but not A: the endpoint does not let A dial, so neither may A's circuits end here.
        var vpnD = Run(nsD, ["vpn", "--address", $"{AddressD}/24", "--peer", $"{stranger}={AddressA}/32", "--log-level", "Information", .. lab.DFlags]);
        Assert.True(vpnD.WaitForStderr(l => l.StartsWith("vpn up: qp0 ", StringComparison.Ordinal), Startup), vpnD.AllStderr);
        lab.WaitForLink("C", lab.D);
        var vpnA = Run(nsA, ["vpn", "--address", $"{AddressA}/24", "--peer", $"{lab.D}={AddressD}/32", .. lab.AFlags]);

        Assert.True(vpnA.WaitForStderr(l => l.Contains($"vpn: dialing {lab.D} failed: ", StringComparison.Ordinal) && l.Contains("no circuit either", StringComparison.Ordinal), Startup), Logs(lab, vpnA, vpnD));
        Assert.True(vpnD.WaitForStderr(l => l.Contains($"Circuit from {lab.A} refused", StringComparison.Ordinal), Startup), Logs(lab, vpnA, vpnD));
        var failure = vpnA.Stderr.First(l => l.Contains($"vpn: dialing {lab.D} failed: ", StringComparison.Ordinal) && l.Contains("no circuit either", StringComparison.Ordinal));
        Assert.Contains("unreachable", failure, StringComparison.Ordinal);
        Assert.DoesNotContain(vpnA.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal));
        Assert.DoesNotContain(vpnD.Stderr, l => l.StartsWith("path: ", StringComparison.Ordinal));
    }

    [RootFact]
    public async Task With_no_circuit_on_both_sides_the_vpns_fail_their_dials_as_the_relays_answer_and_ping_gets_nothing()
    {
        var (lab, nsA, nsD) = StartIslands();
        var vpnD = Run(nsD, ["vpn", "--address", $"{AddressD}/24", "--peer", $"{lab.A}={AddressA}/32", "--no-circuit", .. lab.DFlags]);
        Assert.True(vpnD.WaitForStderr(l => l.StartsWith("vpn up: qp0 ", StringComparison.Ordinal), Startup), vpnD.AllStderr);
        lab.WaitForLink("C", lab.D);
        var vpnA = Run(nsA, ["vpn", "--address", $"{AddressA}/24", "--peer", $"{lab.D}={AddressD}/32", "--no-circuit", .. lab.AFlags]);
        Assert.True(vpnA.WaitForStderr(l => l.StartsWith("vpn up: qp0 ", StringComparison.Ordinal), Startup), vpnA.AllStderr);
        lab.WaitForLink("B", lab.A);

        var ping = await ToolProcess.RunAsync("ip", ["netns", "exec", nsA.Name, "ping", "-c", "3", "-i", "0.5", "-W", "2", AddressD], ToolLimit);

        Assert.NotEqual(0, ping.ExitCode);
        Assert.True(vpnA.WaitForStderr(l => l.Contains($"vpn: dialing {lab.D} failed: ", StringComparison.Ordinal), Startup), Logs(lab, vpnA, vpnD));
        Assert.DoesNotContain(vpnA.Stderr, l => l.Contains("circuit", StringComparison.Ordinal));
        Assert.DoesNotContain(vpnD.Stderr, l => l.Contains("circuit", StringComparison.Ordinal));
    }

    private static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    // Either end may have dialed: the path runs from the dialer to the other.
    private static bool IsCircuitLine(RelayIslands lab, string line, string peer) =>
        line.EndsWith($"ms peer {peer}", StringComparison.Ordinal)
        && (line.StartsWith($"path: circuit via {lab.B},{lab.C} rtt ", StringComparison.Ordinal) || line.StartsWith($"path: circuit via {lab.C},{lab.B} rtt ", StringComparison.Ordinal));

    private static string Logs(RelayIslands lab, PeerProcess vpnA, PeerProcess vpnD) =>
        $"vpn A:\n{vpnA.AllStderr}\nvpn D:\n{vpnD.AllStderr}\nB:\n{lab.Mesh["B"].AllStderr}\nC:\n{lab.Mesh["C"].AllStderr}";

    /// <summary>One reply within 30 s (a connection replaced at start may lose the first), then five of five.</summary>
    private static async Task PingAsync(TestNamespace from, string to, RelayIslands lab, PeerProcess vpnA, PeerProcess vpnD)
    {
        var first = await ToolProcess.RunAsync("ip", ["netns", "exec", from.Name, "ping", "-c", "1", "-w", "30", to], ToolLimit);
        Assert.True(first.ExitCode == 0, $"ping {to}: {first.Stdout}{first.Stderr}\n{Logs(lab, vpnA, vpnD)}");
        var five = await ToolProcess.RunAsync("ip", ["netns", "exec", from.Name, "ping", "-c", "5", "-i", "0.2", "-W", "5", to], ToolLimit);
        Assert.True(five.ExitCode == 0 && five.Stdout.Contains("5 received", StringComparison.Ordinal), $"ping {to}: {five.Stdout}{five.Stderr}\n{Logs(lab, vpnA, vpnD)}");
    }

    /// <summary>A veth pair: <paramref name="hubLink"/> in the hub, eth0 in <paramref name="end"/>, both up with their addresses.</summary>
    private static void Join(TestNamespace hub, string hubLink, string hubAddress, TestNamespace end, string endAddress)
    {
        hub.Ip("link", "add", hubLink, "type", "veth", "peer", "name", "eth0", "netns", end.Name);
        hub.Ip("addr", "add", hubAddress, "dev", hubLink);
        hub.Ip("link", "set", hubLink, "up");
        end.Ip("addr", "add", endAddress, "dev", "eth0");
        end.Ip("link", "set", "eth0", "up");
    }

    /// <summary>The hub (relays, B, C) and A's and D's namespaces, joined; the islands started in the hub.</summary>
    private (RelayIslands Lab, TestNamespace A, TestNamespace D) StartIslands()
    {
        var hub = Namespace();
        var nsA = Namespace();
        var nsD = Namespace();
        Join(hub, "va", "10.77.1.1/24", nsA, "10.77.1.2/24");
        Join(hub, "vd", "10.77.2.1/24", nsD, "10.77.2.2/24");
        return (RelayIslands.Start(_scratch, hub.Name, "10.77.1.1:7001", "10.77.2.1:7002"), nsA, nsD);
    }

    private TestNamespace Namespace()
    {
        var ns = new TestNamespace("qpcirc");
        _namespaces.Add(ns);
        return ns;
    }

    private PeerProcess Run(TestNamespace ns, params string[] args) => _scratch.Own(PeerProcess.StartIn(ns.Name, args));
}
