using System.Buffers.Binary;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Vpn.Tests.TestPackets;

namespace QuicPipe.Vpn.Tests;

public class IcmpErrorIPv4Tests
{
    private static readonly byte[] s_ours = Address("100.64.0.1");

    [Theory]
    [InlineData(UnreachableReason.NoRoute, 0)]
    [InlineData(UnreachableReason.HostUnreachable, 1)]
    public void Unreachable_is_type_3_with_the_reason_as_code(UnreachableReason reason, byte code)
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 40);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WriteUnreachable(packet, s_ours, reason, reply);

        Assert.Equal(28 + packet.Length, length);
        var icmp = AssertIPv4Header(reply.AsSpan(0, length), Address("100.64.0.2"));
        Assert.Equal(3, icmp[0]);
        Assert.Equal(code, icmp[1]);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public void Packet_too_big_is_code_4_with_the_next_hop_MTU()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 300);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WritePacketTooBig(packet, s_ours, 1380, reply);

        var icmp = AssertIPv4Header(reply.AsSpan(0, length), Address("100.64.0.2"));
        Assert.Equal(3, icmp[0]);
        Assert.Equal(4, icmp[1]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(icmp[4..])); // unused
        Assert.Equal(1380, BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]));
        Assert.Equal(packet, icmp[8..].ToArray());
    }

    [Fact]
    public void A_big_packet_is_quoted_up_to_576_bytes()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 1400);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WritePacketTooBig(packet, s_ours, 1280, reply);

        Assert.Equal(576, length);
        var icmp = AssertIPv4Header(reply.AsSpan(0, length), Address("100.64.0.2"));
        Assert.Equal(packet.AsSpan(0, 548).ToArray(), icmp[8..].ToArray());
    }

    [Fact]
    public void A_small_destination_gets_a_shorter_quote_but_never_less_than_header_and_8_bytes()
    {
        var packet = IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(200), optionWords: 2);
        var reply = new byte[28 + 28 + 8];
        var length = IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, reply);
        Assert.Equal(reply.Length, length);
        var icmp = AssertIPv4Header(reply, Address("100.64.0.2"));
        Assert.Equal(packet.AsSpan(0, 36).ToArray(), icmp[8..].ToArray());

        Assert.Throws<ArgumentException>(() => IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, new byte[reply.Length - 1]));
    }

    [Fact]
    public void Bytes_past_the_packet_are_not_quoted()
    {
        var packet = IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(30), trailing: 100);
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, reply);
        Assert.Equal(28 + 50, length);
        Assert.Equal(packet.AsSpan(0, 50).ToArray(), reply.AsSpan(28, 50).ToArray());
    }

    [Fact]
    public void Writes_in_place_over_the_packet_it_answers()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7", payloadLength: 700);
        var expected = new byte[IcmpError.MaxLength];
        var expectedLength = IcmpError.WritePacketTooBig(packet, s_ours, 1280, expected);

        var buffer = new byte[IcmpError.MaxLength];
        packet.CopyTo(buffer, 0);

        // The source may even point into the buffer being overwritten.
        Address("100.64.0.1").CopyTo(buffer, 1000);
        var length = IcmpError.WritePacketTooBig(buffer.AsSpan(0, packet.Length), buffer.AsSpan(1000, 4), 1280, buffer);
        Assert.Equal(expectedLength, length);
        Assert.Equal(expected.AsSpan(0, length).ToArray(), buffer.AsSpan(0, length).ToArray());
    }

    [Fact]
    public void An_ICMP_query_is_answered_but_an_ICMP_error_is_not()
    {
        var reply = new byte[IcmpError.MaxLength];
        Assert.NotEqual(0, IcmpError.WriteUnreachable(IPv4("100.64.0.2", "10.9.0.7", Icmp, IcmpMessage(8)), s_ours, UnreachableReason.NoRoute, reply));
        foreach (var type in new byte[] { 3, 4, 5, 11, 12 })
        {
            var error = IPv4("100.64.0.2", "10.9.0.7", Icmp, IcmpMessage(type));
            Assert.Equal(0, IcmpError.WriteUnreachable(error, s_ours, UnreachableReason.NoRoute, reply));
            Assert.Equal(0, IcmpError.WritePacketTooBig(error, s_ours, 1280, reply));
        }
    }

    [Fact]
    public void Our_own_reply_is_an_error_that_would_not_be_answered()
    {
        var reply = new byte[IcmpError.MaxLength];
        var length = IcmpError.WriteUnreachable(Udp4("100.64.0.2", "10.9.0.7"), s_ours, UnreachableReason.NoRoute, reply);
        Assert.True(IpPacket.TryParse(reply.AsSpan(0, length), out var info));
        Assert.True(info.IsIcmpError);
        Assert.Equal(0, IcmpError.WriteUnreachable(reply.AsSpan(0, length), Address("100.64.0.2"), UnreachableReason.NoRoute, new byte[IcmpError.MaxLength]));
    }

    [Fact]
    public void A_later_fragment_is_not_answered_but_the_first_is()
    {
        var reply = new byte[IcmpError.MaxLength];
        Assert.Equal(0, IcmpError.WriteUnreachable(IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(40), fragment: 185), s_ours, UnreachableReason.NoRoute, reply));
        Assert.NotEqual(0, IcmpError.WriteUnreachable(IPv4("100.64.0.2", "10.9.0.7", Udp, Payload(40), fragment: 0x2000), s_ours, UnreachableReason.NoRoute, reply));
    }

    [Theory]
    [InlineData("0.0.0.0", "10.9.0.7")]
    [InlineData("0.1.2.3", "10.9.0.7")]
    [InlineData("127.0.0.1", "10.9.0.7")]
    [InlineData("224.0.0.1", "10.9.0.7")]
    [InlineData("239.1.2.3", "10.9.0.7")]
    [InlineData("240.0.0.1", "10.9.0.7")]
    [InlineData("255.255.255.255", "10.9.0.7")]
    [InlineData("100.64.0.2", "224.0.0.251")]
    [InlineData("100.64.0.2", "255.255.255.255")]
    public void No_error_goes_to_or_about_a_crowd(string source, string destination)
    {
        var packet = Udp4(source, destination);
        var reply = new byte[IcmpError.MaxLength];
        Assert.Equal(0, IcmpError.WriteUnreachable(packet, s_ours, UnreachableReason.NoRoute, reply));
        Assert.Equal(0, IcmpError.WritePacketTooBig(packet, s_ours, 1280, reply));
    }

    [Fact]
    public void What_is_not_an_IP_packet_is_not_answered()
    {
        var reply = new byte[IcmpError.MaxLength];
        Assert.Equal(0, IcmpError.WriteUnreachable(new byte[60], s_ours, UnreachableReason.NoRoute, reply));
        Assert.Equal(0, IcmpError.WriteUnreachable(Udp4("100.64.0.2", "10.9.0.7").AsSpan(0, 30), s_ours, UnreachableReason.NoRoute, reply));
    }

    [Fact]
    public void Misuse_throws()
    {
        var packet = Udp4("100.64.0.2", "10.9.0.7");
        var reply = new byte[IcmpError.MaxLength];
        Assert.Throws<ArgumentException>(() => IcmpError.WriteUnreachable(packet, Address("fd00::1"), UnreachableReason.NoRoute, reply));
        Assert.Throws<ArgumentOutOfRangeException>(() => IcmpError.WritePacketTooBig(packet, s_ours, 67, reply));
        Assert.Throws<ArgumentOutOfRangeException>(() => IcmpError.WritePacketTooBig(packet, s_ours, 65536, reply));
        Assert.NotEqual(0, IcmpError.WritePacketTooBig(packet, s_ours, 68, reply));
    }

    /// <summary>Checks every IPv4 header field and both checksums, and returns the ICMP message.</summary>
    private static ReadOnlySpan<byte> AssertIPv4Header(ReadOnlySpan<byte> reply, byte[] to)
    {
        Assert.Equal(0x45, reply[0]);
        Assert.Equal(0, reply[1]);
        Assert.Equal(reply.Length, BinaryPrimitives.ReadUInt16BigEndian(reply[2..]));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(reply[4..]));
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(reply[6..])); // DF, offset 0
        Assert.Equal(64, reply[8]);
        Assert.Equal(1, reply[9]);
        Assert.Equal(s_ours, reply[12..16].ToArray());
        Assert.Equal(to, reply[16..20].ToArray());

        var header = reply[..20].ToArray();
        var stored = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
        header[10] = header[11] = 0;
        Assert.Equal(Checksum.Internet(header), stored);

        var icmp = reply[20..].ToArray();
        stored = BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(2));
        icmp[2] = icmp[3] = 0;
        Assert.Equal(Checksum.Internet(icmp), stored);
        return reply[20..];
    }
}
