using System.Buffers.Binary;
using System.Net;
using System.Threading.Channels;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Xdp.Tests;

/// <summary>
/// Runs the loaded program over crafted frames with BPF_PROG_TEST_RUN (no interface) and checks the
/// verdict and every rewritten byte.
/// </summary>
public sealed class XdpVerdictTests(XdpProgramFixture fixture) : IClassFixture<XdpProgramFixture>
{
    private static readonly IPAddress Client4 = IPAddress.Parse("198.51.100.7");
    private static readonly IPAddress Relay4 = IPAddress.Parse("203.0.113.1");
    private static readonly IPAddress Peer4 = IPAddress.Parse("192.0.2.44");
    private static readonly IPAddress Client6 = IPAddress.Parse("2001:db8:1::7");
    private static readonly IPAddress Relay6 = IPAddress.Parse("2001:db8:ffff::1");
    private static readonly IPAddress Peer6 = IPAddress.Parse("2001:db8:2::44");
    private const int PeerPort = 61000;

    private XdpProgram Program => fixture.Program!;

    [RootFact]
    public void Routed_IPv4_short_header_is_rewritten_and_bounced()
    {
        var cid = Route(Peer4);
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay4, Peer4, payload);
    }

    [RootFact]
    public void Routed_IPv4_with_options_is_rewritten_with_valid_checksums()
    {
        var cid = Route(Peer4);
        var payload = PacketBuilder.QuicShort(cid);
        byte[] options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]; // router alert, NOP, NOP, NOP, EOL
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4, IPv4Options = options }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        var frame = AssertRewritten(output, Relay4, Peer4, payload);
        Assert.Equal(28, frame.IpHeader.Length);
        Assert.Equal(options, frame.IpHeader[20..].ToArray());
    }

    [RootFact]
    public void Routed_VLAN_tagged_IPv4_is_rewritten_and_keeps_its_tag()
    {
        var cid = Route(Peer4);
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4, VlanId = 42 }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay4, Peer4, payload);
        Assert.Equal(42, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14)));
    }

    [RootFact]
    public void Routed_IPv6_is_rewritten_with_a_valid_UDP_checksum()
    {
        var cid = Route(Peer6);
        var payload = PacketBuilder.QuicShort(cid, bodyLength: 1200);
        var (action, output) = Run(new PacketBuilder { Source = Client6, Destination = Relay6 }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay6, Peer6, payload);
    }

    [RootFact]
    public void Routed_VLAN_tagged_IPv6_is_rewritten()
    {
        var cid = Route(Peer6);
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client6, Destination = Relay6, VlanId = 7 }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay6, Peer6, payload);
    }

    [RootFact]
    public void A_configured_relay_source_replaces_the_packets_destination()
    {
        var relaySource = IPAddress.Parse("203.0.113.99");
        var cid = Route(Peer4, relaySource);
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(payload));

        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, relaySource, Peer4, payload);
    }

    [RootFact]
    public void An_IPv4_datagram_without_UDP_checksum_keeps_zero()
    {
        var cid = Route(Peer4);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4, UdpChecksum = false }.Build(PacketBuilder.QuicShort(cid)));

        Assert.Equal(XdpAction.Tx, action);
        var frame = new ParsedFrame(output);
        Assert.Equal(0, frame.UdpChecksum);
        Assert.True(frame.IPv4HeaderChecksumValid);
    }

    [RootFact]
    public void Long_headers_pass_unchanged()
    {
        var cid = Route(Peer4);
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(PacketBuilder.QuicLong(cid)));
    }

    [RootFact]
    public void Relay_namespace_CIDs_pass_unchanged_even_when_routed()
    {
        var cid = XdpProgramFixture.NewCid(firstByte: 0xab);
        Program.SetRoute(new XdpRoute(cid, PeerAddress.FromEndPoint(new IPEndPoint(Peer4, PeerPort))));
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(PacketBuilder.QuicShort(cid)));
    }

    [RootFact]
    public void Other_UDP_ports_pass_unchanged()
    {
        var cid = Route(Peer4);
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4, DestinationPort = 53 }.Build(PacketBuilder.QuicShort(cid)));
    }

    [RootFact]
    public void A_route_to_the_other_family_passes_to_userspace()
    {
        var cid = Route(Peer6);
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(PacketBuilder.QuicShort(cid)));
    }

    [RootFact]
    public void IPv4_fragments_and_IPv6_extension_headers_pass()
    {
        var cid = Route(Peer4);
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4, FragmentField = 0x2000 }.Build(PacketBuilder.QuicShort(cid)));
        var cid6 = Route(Peer6);
        AssertPassesUnchanged(new PacketBuilder { Source = Client6, Destination = Relay6, IPv6NextHeader = 0 }.Build(PacketBuilder.QuicShort(cid6)));
    }

    [RootFact]
    public async Task A_miss_raises_a_ring_buffer_event_with_the_CID_and_source_and_passes()
    {
        var events = Channel.CreateUnbounded<XdpMissEvent>();
        using var reader = Program.StartMissReader(e => events.Writer.TryWrite(e));
        var cid4 = XdpProgramFixture.NewCid();
        var cid6 = XdpProgramFixture.NewCid();

        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4, SourcePort = 40001 }.Build(PacketBuilder.QuicShort(cid4)));
        AssertPassesUnchanged(new PacketBuilder { Source = Client6, Destination = Relay6, SourcePort = 40002 }.Build(PacketBuilder.QuicShort(cid6)));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var seen = new Dictionary<ConnectionId, XdpMissEvent>();
        while (!seen.ContainsKey(cid4) || !seen.ContainsKey(cid6))
        {
            var e = await events.Reader.ReadAsync(timeout.Token);
            seen[e.Cid] = e;
        }

        Assert.Equal(new IPEndPoint(Client4, 40001), seen[cid4].Source.ToEndPoint());
        Assert.Equal(new IPEndPoint(Client6, 40002), seen[cid6].Source.ToEndPoint());
        Assert.Equal(XdpProgramFixture.RelayPort, seen[cid4].RelayPort);
        Assert.Null(reader.Fault);
    }

    [RootFact]
    public void Every_truncation_of_a_routed_frame_passes_unchanged()
    {
        var cid = Route(Peer4);
        var cid6 = Route(Peer6);
        var before = Program.ReadCounters();
        var frames = new[]
        {
            new PacketBuilder { Source = Client4, Destination = Relay4, IPv4Options = [1, 1, 1, 0] }.Build(PacketBuilder.QuicShort(cid, 4)),
            new PacketBuilder { Source = Client6, Destination = Relay6, VlanId = 3 }.Build(PacketBuilder.QuicShort(cid6, 4)),
        };
        var truncations = 0;
        foreach (var frame in frames)
        {
            // BPF_PROG_TEST_RUN wants at least an Ethernet header; every shorter-than-whole frame must pass.
            for (var length = 14; length < frame.Length; length++)
            {
                AssertPassesUnchanged(frame.AsSpan(0, length).ToArray());
                truncations++;
            }
        }

        var after = Program.ReadCounters();
        Assert.Equal(0UL, after.Transmitted - before.Transmitted);
        Assert.True(after.Malformed - before.Malformed >= (ulong)truncations / 2, $"{after.Malformed - before.Malformed} malformed of {truncations}");
    }

    [RootFact]
    public void Inconsistent_lengths_and_a_bad_IHL_pass()
    {
        var cid = Route(Peer4);
        var frame = new PacketBuilder { Source = Client4, Destination = Relay4 }.Build(PacketBuilder.QuicShort(cid));
        var badIhl = (byte[])frame.Clone();
        badIhl[14] = 0x44; // IHL 4 < 5
        AssertPassesUnchanged(badIhl);
        var longUdpLength = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longUdpLength.AsSpan(14 + 20 + 4), 2000);
        AssertPassesUnchanged(longUdpLength);
        var longTotalLength = (byte[])frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longTotalLength.AsSpan(14 + 2), 2000);
        AssertPassesUnchanged(longTotalLength);
        var ipv6NoChecksum = new PacketBuilder { Source = Client6, Destination = Relay6 }.Build(PacketBuilder.QuicShort(Route(Peer6)));
        ipv6NoChecksum[14 + 40 + 6] = ipv6NoChecksum[14 + 40 + 7] = 0;
        AssertPassesUnchanged(ipv6NoChecksum);
    }

    [RootFact]
    public void Counters_count_each_outcome()
    {
        var cid = Route(Peer4);
        var builder = new PacketBuilder { Source = Client4, Destination = Relay4 };
        var before = Program.ReadCounters();
        Run(builder.Build(PacketBuilder.QuicShort(cid)));
        Run(builder.Build(PacketBuilder.QuicLong(cid)));
        Run(builder.Build(PacketBuilder.QuicShort(XdpProgramFixture.NewCid(0xab))));
        Run(new PacketBuilder { Source = Client4, Destination = Relay4, DestinationPort = 53 }.Build([1, 2, 3]));
        var after = Program.ReadCounters();

        Assert.Equal(4UL, after.Received - before.Received);
        Assert.Equal(1UL, after.Transmitted - before.Transmitted);
        Assert.Equal(1UL, after.PassedLongHeader - before.PassedLongHeader);
        Assert.Equal(1UL, after.PassedRelayCid - before.PassedRelayCid);
        Assert.Equal(1UL, after.NonQuic - before.NonQuic);
    }

    [RootFact]
    public void A_route_back_to_the_IPv4_sender_passes_unchanged_and_counts_a_reflection()
    {
        var cid = RouteTo(new IPEndPoint(Client4, 40100));
        var before = Program.ReadCounters();
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = Relay4, SourcePort = 40100 }.Build(PacketBuilder.QuicShort(cid)));
        var after = Program.ReadCounters();

        Assert.Equal(1UL, after.PassedReflection - before.PassedReflection);
        Assert.Equal(0UL, after.Transmitted - before.Transmitted);
        Assert.Equal(0UL, after.Missed - before.Missed);
    }

    [RootFact]
    public void A_route_back_to_the_IPv6_sender_passes_unchanged_and_counts_a_reflection()
    {
        var cid = RouteTo(new IPEndPoint(Client6, 40101));
        var before = Program.ReadCounters();
        AssertPassesUnchanged(new PacketBuilder { Source = Client6, Destination = Relay6, SourcePort = 40101 }.Build(PacketBuilder.QuicShort(cid)));
        var after = Program.ReadCounters();

        Assert.Equal(1UL, after.PassedReflection - before.PassedReflection);
        Assert.Equal(0UL, after.Transmitted - before.Transmitted);
        Assert.Equal(0UL, after.Missed - before.Missed);
    }

    [RootFact]
    public void A_route_to_the_senders_address_on_another_port_is_still_forwarded()
    {
        var cid = RouteTo(new IPEndPoint(Client4, PeerPort));
        var cid6 = RouteTo(new IPEndPoint(Client6, PeerPort));
        var before = Program.ReadCounters();
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = Relay4, SourcePort = 40102 }.Build(payload));
        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay4, Client4, payload);
        var payload6 = PacketBuilder.QuicShort(cid6);
        (action, output) = Run(new PacketBuilder { Source = Client6, Destination = Relay6, SourcePort = 40102 }.Build(payload6));
        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, Relay6, Client6, payload6);

        Assert.Equal(0UL, Program.ReadCounters().PassedReflection - before.PassedReflection);
    }

    [RootFact]
    public void A_listened_port_on_a_non_listened_address_passes_unchanged()
    {
        var cid = Route(Peer4);
        var cid6 = Route(Peer6);
        var before = Program.ReadCounters();
        var other4 = IPAddress.Parse("203.0.113.2");
        var other6 = IPAddress.Parse("2001:db8:ffff::2");
        AssertPassesUnchanged(new PacketBuilder { Source = Client4, Destination = other4, DestinationPort = XdpProgramFixture.SpecificPort }.Build(PacketBuilder.QuicShort(cid)));
        AssertPassesUnchanged(new PacketBuilder { Source = Client6, Destination = other6, DestinationPort = XdpProgramFixture.SpecificPort }.Build(PacketBuilder.QuicShort(cid6)));
        var after = Program.ReadCounters();

        Assert.Equal(2UL, after.NonQuic - before.NonQuic);
        Assert.Equal(0UL, after.Transmitted - before.Transmitted);
        Assert.Equal(0UL, after.Missed - before.Missed);
    }

    [RootFact]
    public void A_listened_address_and_port_is_forwarded()
    {
        var cid = Route(Peer4);
        var payload = PacketBuilder.QuicShort(cid);
        var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = XdpProgramFixture.SpecificRelay4, DestinationPort = XdpProgramFixture.SpecificPort }.Build(payload));
        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, XdpProgramFixture.SpecificRelay4, Peer4, payload, XdpProgramFixture.SpecificPort);

        var cid6 = Route(Peer6);
        var payload6 = PacketBuilder.QuicShort(cid6);
        (action, output) = Run(new PacketBuilder { Source = Client6, Destination = XdpProgramFixture.SpecificRelay6, DestinationPort = XdpProgramFixture.SpecificPort }.Build(payload6));
        Assert.Equal(XdpAction.Tx, action);
        AssertRewritten(output, XdpProgramFixture.SpecificRelay6, Peer6, payload6, XdpProgramFixture.SpecificPort);
    }

    [RootFact]
    public void A_wildcard_listener_forwards_any_address_of_its_family_only()
    {
        var cid = Route(Peer4);
        foreach (var destination in new[] { "203.0.113.1", "203.0.113.77", "10.9.8.7" })
        {
            var payload = PacketBuilder.QuicShort(cid);
            var (action, output) = Run(new PacketBuilder { Source = Client4, Destination = IPAddress.Parse(destination), DestinationPort = XdpProgramFixture.Wildcard4Port }.Build(payload));
            Assert.Equal(XdpAction.Tx, action);
            AssertRewritten(output, IPAddress.Parse(destination), Peer4, payload, XdpProgramFixture.Wildcard4Port);
        }

        // AddPort is a wildcard for both families.
        var cid6 = Route(Peer6);
        var payload6 = PacketBuilder.QuicShort(cid6);
        var other6 = IPAddress.Parse("2001:db8:abcd::99");
        var (action6, output6) = Run(new PacketBuilder { Source = Client6, Destination = other6 }.Build(payload6));
        Assert.Equal(XdpAction.Tx, action6);
        AssertRewritten(output6, other6, Peer6, payload6);

        // The IPv4 wildcard does not cover IPv6.
        AssertPassesUnchanged(new PacketBuilder { Source = Client6, Destination = other6, DestinationPort = XdpProgramFixture.Wildcard4Port }.Build(PacketBuilder.QuicShort(cid6)));
    }

    [RootFact]
    public void Routes_set_in_a_batch_read_back_and_remove()
    {
        var routes = new XdpRoute[1000];
        for (var i = 0; i < routes.Length; i++)
        {
            var peer = i % 2 == 0 ? new IPEndPoint(Peer4, 1000 + i) : new IPEndPoint(Peer6, 1000 + i);
            routes[i] = new XdpRoute(XdpProgramFixture.NewCid(), PeerAddress.FromEndPoint(peer));
        }

        Program.SetRoutes(routes);
        foreach (var route in routes)
        {
            Assert.True(Program.TryGetRoute(route.Cid, out var back));
            Assert.Equal(route.Peer.ToEndPoint(), back.Peer.ToEndPoint());
        }

        Assert.True(Program.RemoveRoute(routes[0].Cid));
        Assert.False(Program.RemoveRoute(routes[0].Cid));
        Assert.False(Program.TryGetRoute(routes[0].Cid, out _));
        Assert.Throws<ArgumentException>(() => Program.SetRoute(new XdpRoute(new ConnectionId([1, 2, 3]), routes[1].Peer)));
    }

    private ConnectionId Route(IPAddress peer, IPAddress? relaySource = null)
    {
        var cid = XdpProgramFixture.NewCid();
        var source = relaySource is null ? default : PeerAddress.FromEndPoint(new IPEndPoint(relaySource, 0));
        Program.SetRoute(new XdpRoute(cid, PeerAddress.FromEndPoint(new IPEndPoint(peer, PeerPort)), source));
        return cid;
    }

    private ConnectionId RouteTo(IPEndPoint peer)
    {
        var cid = XdpProgramFixture.NewCid();
        Program.SetRoute(new XdpRoute(cid, PeerAddress.FromEndPoint(peer)));
        return cid;
    }

    private (XdpAction Action, byte[] Output) Run(byte[] frame)
    {
        var output = new byte[frame.Length + 256];
        var action = Program.TestRun(frame, output, out var length);
        return (action, output[..length]);
    }

    private void AssertPassesUnchanged(byte[] frame)
    {
        var (action, output) = Run(frame);
        Assert.Equal(XdpAction.Pass, action);
        Assert.Equal(frame, output);
    }

    private static ParsedFrame AssertRewritten(byte[] output, IPAddress expectedSource, IPAddress peer, byte[] payload, int relayPort = XdpProgramFixture.RelayPort)
    {
        var frame = new ParsedFrame(output);
        Assert.Equal(PacketBuilder.ClientMac, frame.DestinationMac.ToArray());
        Assert.Equal(PacketBuilder.RelayMac, frame.SourceMac.ToArray());
        Assert.Equal(expectedSource, frame.Source);
        Assert.Equal(peer, frame.Destination);
        Assert.Equal(relayPort, frame.SourcePort);
        Assert.Equal(PeerPort, frame.DestinationPort);
        Assert.Equal(64, frame.Ttl);
        Assert.Equal(payload, frame.Payload.ToArray());
        if (!frame.IsIPv6)
        {
            Assert.True(frame.IPv4HeaderChecksumValid, "IPv4 header checksum");
        }

        Assert.True(frame.UdpChecksumValid, "UDP checksum");
        return frame;
    }
}
