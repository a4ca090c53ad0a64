using System.Buffers.Binary;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

public class IpPacketTests
{
    [Fact]
    public void Reads_an_IPv4_UDP_packet()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 100);
        Assert.True(IpPacket.TryParse(packet, out var info));
        Assert.Equal(4, info.Version);
        Assert.Equal(20, info.HeaderLength);
        Assert.Equal(128, info.TotalLength);
        Assert.Equal(Udp, info.Protocol);
        Assert.Equal(4, info.AddressLength);
        Assert.Equal(Address("100.64.0.2"), info.Source(packet).ToArray());
        Assert.Equal(Address("10.9.0.7"), info.Destination(packet).ToArray());
        Assert.True(info.DontFragment);
        Assert.False(info.IsIcmpError);
        Assert.False(info.IsNonInitialFragment);
    }

    [Fact]
    public void Options_lengthen_the_IPv4_header()
    {
        var packet = IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(16), fragment: 0, optionWords: 3);
        Assert.True(IpPacket.TryParse(packet, out var info));
        Assert.Equal(32, info.HeaderLength);
        Assert.Equal(48, info.TotalLength);
        Assert.False(info.DontFragment);
    }

    [Fact]
    public void Bytes_past_the_total_length_are_not_part_of_the_packet()
    {
        Assert.True(IpPacket.TryParse(IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(16), trailing: 10), out var v4));
        Assert.Equal(36, v4.TotalLength);
        Assert.True(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", Udp, Payload(16), trailing: 10), out var v6));
        Assert.Equal(56, v6.TotalLength);
    }

    [Theory]
    [InlineData(0, false)] // echo reply
    [InlineData(8, false)] // echo request
    [InlineData(13, false)] // timestamp
    [InlineData(3, true)] // destination unreachable
    [InlineData(4, true)] // source quench
    [InlineData(5, true)] // redirect
    [InlineData(11, true)] // time exceeded
    [InlineData(12, true)] // parameter problem
    public void Knows_an_ICMP_error_from_a_query(byte type, bool error)
    {
        Assert.True(IpPacket.TryParse(IPv4("100.64.0.2", "10.9.0.7", Icmp, IcmpMessage(type)), out var info));
        Assert.Equal(Icmp, info.Protocol);
        Assert.Equal(error, info.IsIcmpError);
    }

    [Fact]
    public void An_ICMP_packet_too_short_to_show_its_type_counts_as_an_error()
    {
        Assert.True(IpPacket.TryParse(IPv4("100.64.0.2", "10.9.0.7", Icmp, []), out var info));
        Assert.True(info.IsIcmpError);
    }

    [Theory]
    [InlineData(0x2000, false)] // first fragment: MF, offset 0
    [InlineData(0x2000 | 185, true)] // a middle one
    [InlineData(185, true)] // the last one
    public void Knows_a_later_IPv4_fragment(int fragment, bool nonInitial)
    {
        // A later fragment's first payload byte looks like ICMP type 3: it must not be read as one.
        var packet = IPv4("100.64.0.2", "10.9.0.7", Icmp, IcmpMessage(3), (ushort)fragment);
        Assert.True(IpPacket.TryParse(packet, out var info));
        Assert.Equal(nonInitial, info.IsNonInitialFragment);
        Assert.Equal(!nonInitial, info.IsIcmpError);
    }

    [Fact]
    public void Reads_an_IPv6_UDP_packet()
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 100);
        Assert.True(IpPacket.TryParse(packet, out var info));
        Assert.Equal(6, info.Version);
        Assert.Equal(40, info.HeaderLength);
        Assert.Equal(148, info.TotalLength);
        Assert.Equal(Udp, info.Protocol);
        Assert.Equal(16, info.AddressLength);
        Assert.Equal(Address("fd00:64::2"), info.Source(packet).ToArray());
        Assert.Equal(Address("2001:db8::7"), info.Destination(packet).ToArray());
        Assert.True(info.DontFragment);
        Assert.False(info.IsIcmpError);
        Assert.False(info.IsNonInitialFragment);
    }

    [Theory]
    [InlineData(1, true)] // destination unreachable
    [InlineData(2, true)] // packet too big
    [InlineData(3, true)] // time exceeded
    [InlineData(127, true)]
    [InlineData(128, false)] // echo request
    [InlineData(135, false)] // neighbour solicitation
    public void Knows_an_ICMPv6_error_from_an_informational_message(byte type, bool error)
    {
        Assert.True(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", IcmpV6, IcmpMessage(type)), out var info));
        Assert.Equal(IcmpV6, info.Protocol);
        Assert.Equal(error, info.IsIcmpError);
    }

    [Fact]
    public void Walks_IPv6_extension_headers_to_the_upper_layer()
    {
        var payload = Concat(ExtensionHeader(60), ExtensionHeader(44, units: 2), FragmentHeader(IcmpV6, offset: 0, more: true), IcmpMessage(1));
        Assert.True(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 0, payload), out var info));
        Assert.Equal(IcmpV6, info.Protocol);
        Assert.Equal(40 + 8 + 16 + 8, info.HeaderLength);
        Assert.True(info.IsIcmpError);
        Assert.False(info.IsNonInitialFragment);
    }

    [Fact]
    public void Knows_a_later_IPv6_fragment_and_reads_no_further()
    {
        // After the fragment header comes the middle of a message: its first byte is not an ICMPv6 type.
        var payload = Concat(FragmentHeader(IcmpV6, offset: 100, more: false), IcmpMessage(1));
        Assert.True(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 44, payload), out var info));
        Assert.True(info.IsNonInitialFragment);
        Assert.False(info.IsIcmpError);
        Assert.Equal(IcmpV6, info.Protocol);
        Assert.Equal(48, info.HeaderLength);
    }

    [Fact]
    public void An_IPv6_extension_chain_past_the_packet_is_refused()
    {
        // The destination options header says 16 bytes; the packet holds 8.
        var header = ExtensionHeader(Udp, units: 2).AsSpan(0, 8).ToArray();
        Assert.False(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 60, header), out _));

        // A hop-by-hop header with no room for even its length byte.
        Assert.False(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 0, []), out _));

        // A fragment header cut short.
        Assert.False(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 44, new byte[4]), out _));
    }

    [Fact]
    public void More_than_eight_IPv6_extension_headers_are_refused()
    {
        var eight = Concat(Enumerable.Range(0, 8).Select(i => ExtensionHeader(i < 7 ? (byte)60 : Udp)).Append(Payload(8)).ToArray());
        Assert.True(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 60, eight), out var info));
        Assert.Equal(40 + 64, info.HeaderLength);

        var nine = Concat(Enumerable.Range(0, 9).Select(i => ExtensionHeader(i < 8 ? (byte)60 : Udp)).Append(Payload(8)).ToArray());
        Assert.False(IpPacket.TryParse(IPv6("fd00::2", "fd00::7", 60, nine), out _));
    }

    [Fact]
    public void A_packet_shorter_than_its_header_says_is_refused()
    {
        var v4 = Udp4("100.64.0.2", "10.9.0.7");
        Assert.False(IpPacket.TryParse(v4.AsSpan(0, v4.Length - 1), out _));
        Assert.False(IpPacket.TryParse(v4.AsSpan(0, 19), out _));
        var v6 = Udp6("fd00::2", "fd00::7");
        Assert.False(IpPacket.TryParse(v6.AsSpan(0, v6.Length - 1), out _));
        Assert.False(IpPacket.TryParse(v6.AsSpan(0, 39), out _));
    }

    [Fact]
    public void A_bad_IPv4_header_length_is_refused()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7");
        packet[0] = 0x44; // 16 bytes: below the minimum
        Assert.False(IpPacket.TryParse(packet, out _));

        packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 0);
        packet[0] = 0x4F; // 60 bytes of header in a 28-byte packet
        Assert.False(IpPacket.TryParse(packet, out _));

        packet = Udp4("100.64.0.2", "10.9.0.7");
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 19); // total length below the header
        Assert.False(IpPacket.TryParse(packet, out _));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x45 })]
    [InlineData(new byte[] { 0x60, 0, 0, 0 })]
    public void A_fragment_of_a_header_is_refused(byte[] packet)
    {
        Assert.False(IpPacket.TryParse(packet, out _));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x55)]
    [InlineData(0x85)]
    [InlineData(0xFF)]
    public void Another_version_is_refused(byte first)
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7");
        packet[0] = first;
        Assert.False(IpPacket.TryParse(packet, out var info));
        Assert.Equal(0, info.Version);
    }

    [Fact]
    public void An_Ethernet_frame_is_refused()
    {
        // What a TUN opened without IFF_NO_PI, or a TAP, would hand over: not an IP packet at the start.
        var frame = Concat([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00], Udp4("100.64.0.2", "10.9.0.7"));
        Assert.False(IpPacket.TryParse(frame, out _));
    }
}
