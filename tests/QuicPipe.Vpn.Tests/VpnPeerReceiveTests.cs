using QuicPipe.Quic;
using QuicPipe.Vpn.Internal;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

/// <summary>
/// What a peer's DATAGRAMs go through before the TUN device (<c>PeerDatagramInput</c>, <c>VpnPeer.TryAccept</c>): not an IP packet, or from
/// a source outside the sending peer's own prefixes (WireGuard's source filter), is dropped and counted; the rest
/// goes to the device, which in these tests is absent, so it counts as a failed TUN write.
/// </summary>
public class VpnPeerReceiveTests
{
    private static readonly NodeId A = TestVpn.NewPeer();
    private static readonly NodeId B = TestVpn.NewPeer();

    [Fact]
    public async Task A_datagram_that_is_not_an_IP_packet_is_counted_as_bad()
    {
        await using var vpn = Create();
        var fromA = InputOf(vpn, 0);
        var truncated = Udp4("100.64.0.2", "100.64.0.1").AsSpan(0, 30).ToArray();

        fromA.OnDatagram(null!, [0xDE, 0xAD, 0xBE, 0xEF]);
        fromA.OnDatagram(null!, []);
        fromA.OnDatagram(null!, truncated);

        Assert.Equal(3, vpn.Counters.BadDatagramPackets);
        Assert.Equal(0, vpn.Counters.SpoofedPackets);
        Assert.Equal(0, vpn.Counters.TunWriteFailures);
        Assert.Equal(0, vpn.Counters.Received);
    }

    [Fact]
    public async Task A_packet_from_another_peers_prefix_or_from_no_peers_is_counted_as_spoofed()
    {
        await using var vpn = Create();
        var fromA = InputOf(vpn, 0);

        fromA.OnDatagram(null!, Udp4("100.64.0.3", "100.64.0.1")); // B's address
        fromA.OnDatagram(null!, Udp4("10.9.1.1", "100.64.0.1")); // B's longer prefix inside A's 10.9.0.0/16
        fromA.OnDatagram(null!, Udp4("192.0.2.1", "100.64.0.1")); // nobody's
        fromA.OnDatagram(null!, Udp6("fd00:64::3", "fd00:64::1")); // B's
        fromA.OnDatagram(null!, Udp6("2001:db8::1", "fd00:64::1")); // nobody's

        Assert.Equal(5, vpn.Counters.SpoofedPackets);
        Assert.Equal(0, vpn.Counters.BadDatagramPackets);
        Assert.Equal(0, vpn.Counters.TunWriteFailures);
        Assert.Equal(0, vpn.Counters.Received);
    }

    [Fact]
    public async Task A_packet_from_the_peers_own_prefix_passes_the_checks_and_reaches_for_the_TUN_device()
    {
        await using var vpn = Create();
        var fromA = InputOf(vpn, 0);
        var fromB = InputOf(vpn, 1);

        // No TUN device is attached here: a packet that passes the checks fails its write, and is counted so.
        fromA.OnDatagram(null!, Udp4("100.64.0.2", "100.64.0.1"));
        fromA.OnDatagram(null!, Udp4("10.9.7.7", "100.64.0.1"));
        fromA.OnDatagram(null!, Udp6("fd00:64::2", "fd00:64::1"));
        fromB.OnDatagram(null!, Udp4("10.9.1.1", "100.64.0.1"));
        fromB.OnDatagram(null!, Udp4("100.64.0.3", "100.64.0.1", payloadLength: 10).Concat(new byte[5]).ToArray()); // trailing bytes

        Assert.Equal(5, vpn.Counters.TunWriteFailures);
        Assert.Equal(0, vpn.Counters.SpoofedPackets);
        Assert.Equal(0, vpn.Counters.BadDatagramPackets);
        Assert.Equal(0, vpn.Counters.Received);
    }

    private static PeerDatagramInput InputOf(TestVpn vpn, int peer) => new(vpn.Router.Peers[peer], vpn.Router);

    private static TestVpn Create() => TestVpn.Create(
    [
        (A, ["100.64.0.2/32", "10.9.0.0/16", "fd00:64::2/128"]),
        (B, ["100.64.0.3/32", "10.9.1.0/24", "fd00:64::3/128"]),
    ]);
}
