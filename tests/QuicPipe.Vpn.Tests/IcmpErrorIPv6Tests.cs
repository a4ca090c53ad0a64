using System.Buffers.Binary;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

public class IcmpErrorIPv6Tests
{
    private static readonly byte[] s_ours = Address("fd00:64::1");

    [Theory]
    [InlineData(UnreachableReason.NoRoute, 0)]
    [InlineData(UnreachableReason.HostUnreachable, 3)]
    public void Unreachable_is_type_1_with_the_reason_as_code(UnreachableReason reason, byte code)
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 40);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WriteUnreachable(packet, s_ours, reason, reply);

        Assert.Equal(48 + packet.Length, length);
        var icmp = AssertIPv6Header(reply.AsSpan(0, length), Address("fd00:64::2"));
        Assert.Equal(1, icmp[0]);
        Assert.Equal(code, icmp[1]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public void Packet_too_big_is_type_2_with_the_MTU()
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 300);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WritePacketTooBig(packet, s_ours, 1420, reply);

        var icmp = AssertIPv6Header(reply.AsSpan(0, length), Address("fd00:64::2"));
        Assert.Equal(2, icmp[0]);
        Assert.Equal(0, icmp[1]);
        Assert.Equal(1420u, BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public void A_big_packet_is_quoted_up_to_1280_bytes()
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 1900);
        var reply = new byte[2000];
        var length = IcmpError.WritePacketTooBig(packet, s_ours, 1280, reply);

        Assert.Equal(1280, length);
        var icmp = AssertIPv6Header(reply.AsSpan(0, length), Address("fd00:64::2"));
        Assert.Equal(packet.AsSpan(0, 1232).ToArray(), icmp[8..].ToArray());
    }

    [Fact]
    public void Writes_in_place_over_the_packet_it_answers()
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7", payloadLength: 1000);
        var expected = new byte[IcmpError.MaxLength];
        var expectedLength = IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, expected);

        var buffer = new byte[1500];
        packet.CopyTo(buffer, 0);
        var length = IcmpError.WriteUnreachable(buffer.AsSpan(0, packet.Length), s_ours, UnreachableReason.NoRoute, buffer.AsSpan(0, IcmpError.MaxLength));
        Assert.Equal(expectedLength, length);
        Assert.Equal(expected.AsSpan(0, length).ToArray(), buffer.AsSpan(0, length).ToArray());
    }

    [Fact]
    public void An_ICMPv6_informational_message_is_answered_but_an_error_is_not()
    {
        var reply = new byte[IcmpError.MaxLength];
        Assert.NotEqual(0, IcmpError.WriteUnreachable(IPv6("fd00:64::2", "2001:db8::7", IcmpV6, IcmpMessage(128)), s_ours, UnreachableReason.NoRoute, reply));
        foreach (var type in new byte[] { 1, 2, 3, 4 })
        {
            var error = IPv6("fd00:64::2", "2001:db8::7", IcmpV6, IcmpMessage(type));
            Assert.Equal(0, IcmpError.WriteUnreachable(error, s_ours, UnreachableReason.NoRoute, reply));
            Assert.Equal(0, IcmpError.WritePacketTooBig(error, s_ours, 1280, reply));
        }

        // Also behind extension headers.
        var hidden = IPv6("fd00:64::2", "2001:db8::7", 60, Concat(ExtensionHeader(IcmpV6), IcmpMessage(1)));
        Assert.Equal(0, IcmpError.WriteUnreachable(hidden, s_ours, UnreachableReason.NoRoute, reply));
    }

    [Fact]
    public void A_later_fragment_is_not_answered_but_the_first_is()
    {
        var reply = new byte[IcmpError.MaxLength];
        var later = IPv6("fd00:64::2", "2001:db8::7", 44, Concat(FragmentHeader(Udp, 100, more: true), Payload(64)));
        Assert.Equal(0, IcmpError.WritePacketTooBig(later, s_ours, 1280, reply));
        var first = IPv6("fd00:64::2", "2001:db8::7", 44, Concat(FragmentHeader(Udp, 0, more: true), Payload(64)));
        Assert.NotEqual(0, IcmpError.WritePacketTooBig(first, s_ours, 1280, reply));
    }

    [Theory]
    [InlineData("::", "2001:db8::7")]
    [InlineData("::1", "2001:db8::7")]
    [InlineData("ff02::1", "2001:db8::7")]
    [InlineData("ff0e::1:2", "2001:db8::7")]
    public void No_error_goes_to_a_source_that_names_no_single_host(string source, string destination)
    {
        var packet = Udp6(source, destination);
        var reply = new byte[IcmpError.MaxLength];
        Assert.Equal(0, IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, reply));
        Assert.Equal(0, IcmpError.WritePacketTooBig(packet, s_ours, 1280, reply));
    }

    [Fact]
    public void A_multicast_destination_gets_packet_too_big_only()
    {
        // RFC 4443 §2.4(e.3): path MTU discovery for multicast needs the one exception.
        var packet = Udp6("fd00:64::2", "ff0e::1:2");
        var reply = new byte[IcmpError.MaxLength];
        Assert.Equal(0, IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, reply));
        Assert.NotEqual(0, IcmpError.WritePacketTooBig(packet, s_ours, 1280, reply));
    }

    [Fact]
    public void Misuse_throws()
    {
        var packet = Udp6("fd00:64::2", "2001:db8::7");
        var reply = new byte[IcmpError.MaxLength];
        Assert.Throws<ArgumentException>(() => IcmpError.WriteUnreachable(packet, Address("100.64.0.1"), UnreachableReason.NoRoute, reply));
        Assert.Throws<ArgumentOutOfRangeException>(() => IcmpError.WritePacketTooBig(packet, s_ours, 1279, reply));
        Assert.Throws<ArgumentException>(() => IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, new byte[48 + 47]));
    }

    /// <summary>Checks every IPv6 header field and the ICMPv6 checksum over the pseudo-header, and returns the ICMPv6 message.</summary>
    private static ReadOnlySpan<byte> AssertIPv6Header(ReadOnlySpan<byte> reply, byte[] to)
    {
        Assert.Equal(0x6000_0000u, BinaryPrimitives.ReadUInt32BigEndian(reply));
        Assert.Equal(reply.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(reply[4..]));
        Assert.Equal(58, reply[6]);
        Assert.Equal(64, reply[7]);
        Assert.Equal(s_ours, reply[8..24].ToArray());
        Assert.Equal(to, reply[24..40].ToArray());

        var icmp = reply[40..].ToArray();
        var stored = BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(2));
        icmp[2] = icmp[3] = 0;
        Assert.Equal(ReferenceChecksum.IcmpV6(s_ours, to, icmp), stored);
        return reply[40..];
    }
}
