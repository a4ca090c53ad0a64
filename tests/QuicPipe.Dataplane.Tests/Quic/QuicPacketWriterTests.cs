using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class QuicPacketWriterTests
{
    [Fact]
    public void Short_header_is_first_byte_dcid_then_counting_payload()
    {
        var buffer = new byte[32];

        var written = QuicPacketWriter.WriteShortHeader(buffer, [0xa1, 0xa2, 0xa3], payloadLength: 4);

        Assert.Equal(8, written);
        Assert.Equal(Convert.FromHexString("40a1a2a300010203"), buffer[..written]);
    }

    [Fact]
    public void Short_header_takes_a_greased_first_byte()
    {
        var buffer = new byte[8];

        var written = QuicPacketWriter.WriteShortHeader(buffer, [], payloadLength: 0, firstByte: 0x07);

        Assert.Equal(1, written);
        Assert.Equal(0x07, buffer[0]);
    }

    [Fact]
    public void Long_header_matches_the_rfc_9001_initial_layout()
    {
        var buffer = new byte[64];

        var written = QuicPacketWriter.WriteLongHeader(
            buffer, QuicVersions.V1, QuicPacketType.Initial, Convert.FromHexString("8394c8f03e515708"), [], payloadLength: 3);

        Assert.Equal(Convert.FromHexString("c000000001088394c8f03e515708" + "00" + "000102"), buffer[..written]);
    }

    [Theory]
    [InlineData(QuicVersions.V1, QuicPacketType.Handshake, 0xe0)]
    [InlineData(QuicVersions.V2, QuicPacketType.Retry, 0xc0)]
    [InlineData(QuicVersions.V2, QuicPacketType.Initial, 0xd0)]
    [InlineData(QuicVersions.Negotiation, QuicPacketType.VersionNegotiation, 0xc0)]
    [InlineData(0x1a2a3a4aU, QuicPacketType.Unknown, 0xc0)]
    public void Long_header_first_byte_carries_the_version_specific_type_bits(uint version, QuicPacketType type, byte expected)
    {
        var buffer = new byte[64];

        var written = QuicPacketWriter.WriteLongHeader(buffer, version, type, [1], [2, 3], payloadLength: 0);

        Assert.Equal(1 + 4 + 1 + 1 + 1 + 2, written);
        Assert.Equal(expected, buffer[0]);
    }

    [Theory]
    [InlineData(QuicVersions.V1, QuicPacketType.OneRtt)]
    [InlineData(QuicVersions.V1, QuicPacketType.Unknown)]
    [InlineData(QuicVersions.V1, QuicPacketType.VersionNegotiation)]
    [InlineData(QuicVersions.Negotiation, QuicPacketType.Initial)]
    [InlineData(0x1a2a3a4aU, QuicPacketType.Initial)]
    public void Long_header_refuses_a_type_the_version_does_not_have(uint version, QuicPacketType type)
    {
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteLongHeader(new byte[64], version, type, [], [], 0));
    }

    [Fact]
    public void Writers_refuse_bad_arguments()
    {
        var buffer = new byte[64];
        var cid21 = new byte[21];

        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteShortHeader(buffer, [], 0, firstByte: 0x80));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteShortHeader(buffer, cid21, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuicPacketWriter.WriteShortHeader(buffer, [], -1));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteShortHeader(buffer, [1, 2], 62));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, cid21, [], 0));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, [], cid21, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, [], [], -1));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, [], [], 58));
        Assert.Throws<ArgumentException>(() => QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, [], [], int.MaxValue));
    }

    [Fact]
    public void Packets_fill_their_destination_exactly()
    {
        var buffer = new byte[64];

        Assert.Equal(64, QuicPacketWriter.WriteShortHeader(buffer, [1, 2], 61));
        Assert.Equal(64, QuicPacketWriter.WriteLongHeader(buffer, 1, QuicPacketType.Initial, [], [], 57));
    }
}
