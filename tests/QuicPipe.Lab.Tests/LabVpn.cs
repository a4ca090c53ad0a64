namespace QuicPipe.Lab.Tests;

/// <summary>
/// A VPN across the NAT lab as a user runs it: <c>quicpipe relay</c> in R, <c>quicpipe vpn</c> in A (100.64.0.1,
/// fd00:64::1) and in B (100.64.0.2, fd00:64::2), each listing the other as its peer. Their stderr shares one clock.
/// Dispose kills whatever still runs (which removes the TUN devices) and the identity files.
/// </summary>
internal sealed class LabVpn : LabProcesses
{
    public const string AddressA = "100.64.0.1";
    public const string AddressB = "100.64.0.2";
    public const string Address6A = "fd00:64::1";
    public const string Address6B = "fd00:64::2";

    private LabVpn(NatLab lab)
        : base(lab, "quicpipe-vpn-")
    {
        KeyA = Identity("a");
        KeyB = Identity("b");
    }

    public (string File, string Id) KeyA { get; }

    public (string File, string Id) KeyB { get; }

    public LabQuicpipe VpnA { get; private set; } = null!;

    public LabQuicpipe VpnB { get; private set; } = null!;

    /// <summary>Starts the relay and both VPNs, and waits for both to say they are up.</summary>
    public static LabVpn Start(NatLab lab, params string[] extra)
    {
        var vpn = new LabVpn(lab);
        try
        {
            vpn.StartRelay();

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

    /// <summary>Runs a command in a host (ping, socat, iperf3); its result, bounded by <paramref name="timeout"/>.</summary>
    public LabResult Exec(LabHost host, TimeSpan timeout, params string[] args) => Lab.Exec(host, timeout, args);

    protected override IEnumerable<(string Name, LabQuicpipe? Process)> Named() => [("relay", Relay), ("vpn A", VpnA), ("vpn B", VpnB)];

    private LabQuicpipe StartVpn(LabHost host, string key, string address, string address6, string peer, string[] extra) =>
        Run(host, ["vpn", "--relay", RelayAddress, "--relay-id", RelayKey.Id, "--key", key, "--address", address, "--address", address6, "--peer", peer, .. extra]);
}
