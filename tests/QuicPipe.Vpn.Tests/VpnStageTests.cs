using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Lab;
using QuicPipe.Quic;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

/// <summary>
/// UseIpRouting, UsePeerMtu and UsePeerDelivery on synthetic batches, as the TUN listener runs them: what each
/// packet's verdict becomes, what is written in its slot, and what the router counts. The peers are never
/// connected (the peer endpoint is not started), so a packet for one is held and dropped when its dial fails.
/// </summary>
public class VpnStageTests
{
    private static readonly NodeId A = TestVpn.NewPeer();
    private static readonly NodeId B = TestVpn.NewPeer();

    [Fact]
    public async Task A_packet_to_a_peer_prefix_is_consumed_and_held_for_a_dial_whose_failure_drops_it()
    {
        await using var vpn = TestVpn.Create([(A, ["100.64.0.2/32", "10.9.0.0/16"])], o => o.RedialDelay = TimeSpan.FromHours(1));
        var terminal = 0;
        var pipeline = vpn.Pipeline(_ => terminal++);

        var batch = TestVpn.Batch(Udp4("100.64.0.1", "10.9.3.7"), Udp6("fd00::1", "fd00::2"));
        pipeline(batch);

        Assert.Equal(1, terminal);
        Assert.Equal(PacketVerdict.Consumed, batch.Verdicts[0]);

        // The IPv6 packet matches no prefix of A: an ICMPv6 answer, not a delivery.
        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[1]);

        // Held while A is dialled; the dial fails (no relay), which drops what was held.
        Assert.True(SpinWait.SpinUntil(() => vpn.Counters.PendingDroppedPackets == 1, TimeSpan.FromSeconds(10)), $"pending dropped {vpn.Counters.PendingDroppedPackets}");
        Assert.Equal($"vpn: dialing {A} failed: Not connected to relay 127.0.0.1:9.", Assert.Single(vpn.DialFailures));
        Assert.Equal(0, vpn.Counters.Sent);
        Assert.Equal(0, vpn.Counters.SentBytes);
        Assert.Equal(0, vpn.Counters.SendDroppedPackets);
        Assert.Equal(1, vpn.Counters.NoRoutePackets);
        Assert.Equal(0, vpn.Counters.NotIpPackets);
        Assert.Equal(0, vpn.Router.ConnectedPeers);

        // Within the redial delay, a packet for A is dropped (counted) without another dial.
        var again = TestVpn.Batch(Udp4("100.64.0.1", "100.64.0.2"));
        pipeline(again);

        Assert.Equal(PacketVerdict.Consumed, again.Verdicts[0]);
        Assert.Equal(2, vpn.Counters.PendingDroppedPackets);
        Assert.Single(vpn.DialFailures);
    }

    [Fact]
    public async Task With_no_redial_delay_each_packet_after_a_failed_dial_dials_again()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16"])], o => o.RedialDelay = TimeSpan.Zero);
        var pipeline = vpn.Pipeline();

        for (var i = 1; i <= 3; i++)
        {
            pipeline(TestVpn.Batch(Udp4("100.64.0.1", "10.9.0.7")));
            Assert.True(SpinWait.SpinUntil(() => vpn.DialFailures.Count == i, TimeSpan.FromSeconds(10)), $"dials {vpn.DialFailures.Count}, expected {i}");
        }

        Assert.Equal(3, vpn.Counters.PendingDroppedPackets);
    }

    [Fact]
    public async Task A_frame_that_is_not_IP_is_dropped_as_NotIp_and_counted()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16"])]);
        var truncated = Udp4("100.64.0.1", "10.9.0.7").AsSpan(0, 24).ToArray(); // total length says more
        var batch = TestVpn.Batch([0x00, 0x01, 0x02, 0x03], [0x25, 0, 0, 20], truncated);
        var terminal = 0;

        vpn.Pipeline(_ => terminal++)(batch);

        Assert.Equal(1, terminal);
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(PacketVerdict.Drop, batch.Verdicts[i]);
            Assert.Equal(DropReason.NotIp, batch.DropReasons[i]);
        }

        Assert.Equal(3, vpn.Counters.NotIpPackets);
        Assert.Equal(0, vpn.Counters.NoRoutePackets);
        Assert.Equal(0, vpn.Counters.PendingDroppedPackets);
        Assert.Empty(vpn.DialFailures);
    }

    [Fact]
    public async Task An_IPv4_packet_no_peer_covers_becomes_an_ICMP_net_unreachable_from_its_destination_in_its_slot()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16"])]);
        var packet = Udp4("100.64.0.1", "192.0.2.7", payloadLength: 40);
        var batch = TestVpn.Batch(packet);

        vpn.Pipeline()(batch);

        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[0]);
        Assert.Equal(1, vpn.Counters.NoRoutePackets);
        Assert.Empty(vpn.DialFailures);
        var reply = batch.Payload(0);
        Assert.Equal(20 + 8 + packet.Length, reply.Length);
        Assert.True(IpPacket.TryParse(reply, out var info));
        Assert.Equal(4, info.Version);
        Assert.Equal(Icmp, info.Protocol);
        Assert.True(info.IsIcmpError);
        Assert.Equal(reply.Length, info.TotalLength);
        Assert.Equal(0, Checksum.Internet(reply[..20]));
        Assert.Equal(Address("192.0.2.7"), info.Source(reply).ToArray());
        Assert.Equal(Address("100.64.0.1"), info.Destination(reply).ToArray());
        var icmp = reply[20..];
        Assert.Equal(3, icmp[0]); // destination unreachable
        Assert.Equal(0, icmp[1]); // net unreachable
        Assert.Equal(0, Checksum.Internet(icmp));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public async Task An_IPv6_packet_no_peer_covers_becomes_an_ICMPv6_no_route_from_its_destination_in_its_slot()
    {
        await using var vpn = TestVpn.Create([(A, ["fd00:64::/64"])]);
        var packet = Udp6("fd00:64::1", "2001:db8::7", payloadLength: 40);
        var batch = TestVpn.Batch(packet);

        vpn.Pipeline()(batch);

        Assert.Equal(PacketVerdict.Forward, batch.Verdicts[0]);
        Assert.Equal(1, vpn.Counters.NoRoutePackets);
        var reply = batch.Payload(0);
        Assert.Equal(40 + 8 + packet.Length, reply.Length);
        Assert.True(IpPacket.TryParse(reply, out var info));
        Assert.Equal(6, info.Version);
        Assert.Equal(IcmpV6, info.Protocol);
        Assert.Equal(reply.Length, info.TotalLength);
        Assert.Equal(Address("2001:db8::7"), info.Source(reply).ToArray());
        Assert.Equal(Address("fd00:64::1"), info.Destination(reply).ToArray());
        var icmp = reply[40..];
        Assert.Equal(1, icmp[0]); // destination unreachable
        Assert.Equal(0, icmp[1]); // no route to destination
        Assert.Equal(0, ReferenceChecksum.IcmpV6(info.Source(reply), info.Destination(reply), icmp));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public async Task An_ICMP_error_to_a_destination_no_peer_covers_is_dropped_not_answered()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16", "fd00:64::/64"])]);
        var error4 = IPv4("100.64.0.1", "192.0.2.7", Icmp, IcmpMessage(type: 3, code: 1));
        var error6 = IPv6("fd00:64::1", "2001:db8::7", IcmpV6, IcmpMessage(type: 1, code: 3));
        var batch = TestVpn.Batch(error4, error6);

        vpn.Pipeline()(batch);

        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(PacketVerdict.Drop, batch.Verdicts[i]);
            Assert.Equal(DropReason.NoRoute, batch.DropReasons[i]);
        }

        // Left as they were: nothing written over them.
        Assert.Equal(error4, batch.Payload(0).ToArray());
        Assert.Equal(error6, batch.Payload(1).ToArray());
        Assert.Equal(2, vpn.Counters.NoRoutePackets);
    }

    [Fact]
    public async Task The_longest_prefix_names_the_peer_across_peers()
    {
        await using var vpn = TestVpn.Create(
            [(A, ["10.9.0.0/16", "fd00:64::/64"]), (B, ["10.9.1.0/24", "fd00:64::5/128"])],
            o => o.RedialDelay = TimeSpan.FromHours(1));
        var batch = TestVpn.Batch(
            Udp4("100.64.0.1", "10.9.1.5"),
            Udp4("100.64.0.1", "10.9.2.5"),
            Udp6("fd00:64::1", "fd00:64::5"),
            Udp6("fd00:64::1", "fd00:64::6"));

        // Routing alone: the slot says which peer.
        new PipelineBuilder().UseIpRouting(vpn.Router).Build()(batch);

        Assert.All(Enumerable.Range(0, batch.Count), i => Assert.Equal(PacketVerdict.Local, batch.Verdicts[i]));
        Assert.Equal([1, 0, 1, 0], batch.LocalSlots[..batch.Count].ToArray());
        Assert.True(vpn.Router.Routes.TryLookup(Address("10.9.1.255"), out var peer) && peer == 1);

        // Delivery: a packet for B dials B, not A.
        vpn.Pipeline()(TestVpn.Batch(Udp4("100.64.0.1", "10.9.1.5")));
        Assert.True(SpinWait.SpinUntil(() => vpn.DialFailures.Count == 1, TimeSpan.FromSeconds(10)));
        Assert.StartsWith($"vpn: dialing {B} failed", Assert.Single(vpn.DialFailures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_packet_for_a_peer_not_yet_connected_passes_the_MTU_stage_whatever_its_size()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16"])], o => o.RedialDelay = TimeSpan.FromHours(1));
        var big = Udp4("100.64.0.1", "10.9.0.7", payloadLength: VpnRouter.MaxPacketSize - 28);
        var batch = TestVpn.Batch(big);

        new PipelineBuilder().UseIpRouting(vpn.Router).UsePeerMtu(vpn.Router).Build()(batch);

        Assert.Equal(PacketVerdict.Local, batch.Verdicts[0]);
        Assert.Equal(big, batch.Payload(0).ToArray());
        Assert.Equal(0, vpn.Counters.TooBigPackets);
    }

    [Fact]
    public async Task Stages_leave_packets_an_earlier_stage_decided_alone()
    {
        await using var vpn = TestVpn.Create([(A, ["10.9.0.0/16"])]);
        var batch = TestVpn.Batch([0x00], Udp4("100.64.0.1", "192.0.2.7"));
        batch.Drop(0, DropReason.Impaired);
        batch.Drop(1, DropReason.Impaired);

        vpn.Pipeline()(batch);

        Assert.Equal(DropReason.Impaired, batch.DropReasons[0]);
        Assert.Equal(DropReason.Impaired, batch.DropReasons[1]);
        Assert.Equal(0, vpn.Counters.NotIpPackets);
        Assert.Equal(0, vpn.Counters.NoRoutePackets);
    }
}
