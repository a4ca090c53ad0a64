using System.Diagnostics;
using QuicPipe.Quic;
using Xunit.Sdk;

namespace QuicPipe.Lab.Tests;

/// <summary>
/// A VPN across the NAT lab as a user runs it: <c>quicpipe relay</c> in R, <c>quicpipe vpn</c> in A (100.64.0.1,
/// fd00:64::1) and in B (100.64.0.2, fd00:64::2), each listing the other as its peer. Their stderr shares one clock.
/// Dispose kills whatever still runs (which removes the TUN devices) and the identity files.
/// </summary>
internal sealed class LabVpn : IDisposable
{
    public const string AddressA = "100.64.0.1";
    public const string AddressB = "100.64.0.2";
    public const string Address6A = "fd00:64::1";
    public const string Address6B = "fd00:64::2";

    private readonly NatLab _lab;
    private readonly string _directory;
    private readonly List<LabQuicpipe> _processes = [];
    private readonly (string File, string Id) _relayKey;

    private LabVpn(NatLab lab)
    {
        _lab = lab;
        _directory = System.IO.Directory.CreateTempSubdirectory("quicpipe-vpn-").FullName;
        _relayKey = Identity("relay");
        KeyA = Identity("a");
        KeyB = Identity("b");
    }

    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public (string File, string Id) KeyA { get; }

    public (string File, string Id) KeyB { get; }

    public string Directory => _directory;

    public LabQuicpipe Relay { get; private set; } = null!;

    public LabQuicpipe VpnA { get; private set; } = null!;

    public LabQuicpipe VpnB { get; private set; } = null!;

    public NatLab Lab => _lab;

    /// <summary>Starts the relay and both VPNs, and waits for both to say they are up.</summary>
    public static LabVpn Start(NatLab lab, params string[] extra)
    {
        var vpn = new LabVpn(lab);
        try
        {
            vpn.Relay = vpn.Run(LabHost.R, "relay", "--listen", LabPeers.RelayAddress, "--key", vpn._relayKey.File, "--threads", "1", "--stats-interval", "0");
            vpn.Expect(vpn.Relay, l => l.Contains("Relay running", StringComparison.Ordinal), "relay did not start");
            // The lab runs IPv4 only; the VPN carries IPv6 inside, so the peers' namespaces need it back.
            foreach (var host in new[] { LabHost.A, LabHost.B })
            {
                lab.Exec(host, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0");
            }

            vpn.VpnA = vpn.StartVpnA(extra);
            vpn.VpnB = vpn.StartVpnB(extra);
            vpn.ExpectUp(vpn.VpnA);
            vpn.ExpectUp(vpn.VpnB);
            return vpn;
        }
        catch
        {
            vpn.Dispose();
            throw;
        }
    }

    public LabQuicpipe StartVpnA(params string[] extra) =>
        StartVpn(LabHost.A, KeyA.File, $"{AddressA}/24", $"{Address6A}/64", $"{KeyB.Id}={AddressB}/32,{Address6B}/128", extra);

    public LabQuicpipe StartVpnB(params string[] extra)
    {
        VpnB = StartVpn(LabHost.B, KeyB.File, $"{AddressB}/24", $"{Address6B}/64", $"{KeyA.Id}={AddressA}/32,{Address6A}/128", extra);
        return VpnB;
    }

    public void ExpectUp(LabQuicpipe vpn) =>
        Expect(vpn, l => l.StartsWith("vpn up: qp0 ", StringComparison.Ordinal) && l.EndsWith(", 1 peers", StringComparison.Ordinal), "vpn did not come up");

    /// <summary>The first line of <paramref name="process"/> that matches, or a test failure showing every process's stderr.</summary>
    public TimedLine Expect(LabQuicpipe process, Func<string, bool> match, string what, TimeSpan? timeout = null) =>
        process.WaitForLine(match, timeout ?? LabPeers.Startup) ?? throw new XunitException($"{what} within {(timeout ?? LabPeers.Startup).TotalSeconds} s\n{Describe()}");

    /// <summary>Runs a command in a host (ping, socat, iperf3); its result, bounded by <paramref name="timeout"/>.</summary>
    public LabResult Exec(LabHost host, TimeSpan timeout, params string[] args) => _lab.Exec(host, timeout, args);

    public string Describe()
    {
        var parts = new List<string>();
        foreach (var (name, process) in new[] { ("relay", Relay), ("vpn A", VpnA), ("vpn B", VpnB) })
        {
            if (process is not null)
            {
                parts.Add($"--- {name} (now {Clock.Elapsed.TotalSeconds:0.000} s):\n{process.AllStderr}");
            }
        }

        return string.Join('\n', parts);
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        System.IO.Directory.Delete(_directory, recursive: true);
    }

    private LabQuicpipe StartVpn(LabHost host, string key, string address, string address6, string peer, string[] extra) =>
        Run(host, ["vpn", "--relay", LabPeers.RelayAddress, "--relay-id", _relayKey.Id, "--key", key, "--address", address, "--address", address6, "--peer", peer, .. extra]);

    private LabQuicpipe Run(LabHost host, params string[] args)
    {
        var process = LabQuicpipe.Start(_lab, host, Clock, args);
        _processes.Add(process);
        return process;
    }

    private (string File, string Id) Identity(string name)
    {
        var file = Path.Combine(_directory, name + ".key");
        var identity = NodeIdentity.Generate();
        identity.SaveKeyFile(file);
        return (file, identity.NodeId.ToString());
    }
}
