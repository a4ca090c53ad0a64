using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class QuicHeaderParserTests
{
    private static readonly ConnectionId RfcDcid = Cid("8394c8f03e515708");

    [Fact]
    public void Rfc9001_client_initial_parses_as_a_v1_initial()
    {
        // RFC 9001 Appendix A.2: the protected client Initial (first byte after header protection is 0xc0).
        var packet = Convert.FromHexString("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11");

        var reason = QuicHeaderParser.Parse(packet, 12, out var header);

        Assert.Equal(DropReason.None, reason);
        Assert.Equal(QuicHeaderForm.Long, header.Form);
        Assert.Equal(QuicPacketType.Initial, header.Type);
        Assert.Equal(QuicVersions.V1, header.Version);
        Assert.Equal(RfcDcid, header.Dcid);
        Assert.True(header.Scid.IsEmpty);
    }

    [Fact]
    public void Rfc9001_unprotected_initial_header_parses_as_a_v1_initial()
    {
        // RFC 9001 Appendix A.2: the header before protection (0xc3: packet number length 4).
        var packet = Convert.FromHexString("c300000001088394c8f03e5157080000449e00000002");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicPacketType.Initial, header.Type);
        Assert.Equal(RfcDcid, header.Dcid);
    }

    [Fact]
    public void Rfc9369_client_initial_parses_as_a_v2_initial()
    {
        // RFC 9369 Appendix A.2: the unprotected v2 client Initial header; 0xd3 has type bits 01, v2's Initial.
        var packet = Convert.FromHexString("d36b3343cf088394c8f03e5157080000449e00000002");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicHeaderForm.Long, header.Form);
        Assert.Equal(QuicPacketType.Initial, header.Type);
        Assert.Equal(QuicVersions.V2, header.Version);
        Assert.Equal(RfcDcid, header.Dcid);
        Assert.True(header.Scid.IsEmpty);
    }

    [Theory]
    [InlineData(0xc0, QuicVersions.V1, QuicPacketType.Initial)]
    [InlineData(0xd0, QuicVersions.V1, QuicPacketType.ZeroRtt)]
    [InlineData(0xe0, QuicVersions.V1, QuicPacketType.Handshake)]
    [InlineData(0xf0, QuicVersions.V1, QuicPacketType.Retry)]
    [InlineData(0xc0, QuicVersions.V2, QuicPacketType.Retry)]
    [InlineData(0xd0, QuicVersions.V2, QuicPacketType.Initial)]
    [InlineData(0xe0, QuicVersions.V2, QuicPacketType.ZeroRtt)]
    [InlineData(0xf0, QuicVersions.V2, QuicPacketType.Handshake)]
    [InlineData(0xcf, QuicVersions.V1, QuicPacketType.Initial)]
    [InlineData(0xff, QuicVersions.V2, QuicPacketType.Handshake)]
    public void Long_header_type_bits_map_per_version(byte firstByte, uint version, QuicPacketType expected)
    {
        var packet = LongHeader(firstByte, version, dcid: "0102", scid: "0304");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(expected, header.Type);
        Assert.Equal(version, header.Version);
    }

    [Fact]
    public void Version_negotiation_is_recognised_by_version_zero_whatever_the_first_byte()
    {
        // RFC 8999 §6: version 0, then the CIDs, then the supported versions; the other first-byte bits are arbitrary.
        var packet = Convert.FromHexString("aa" + "00000000" + "04a1a2a3a4" + "08b1b2b3b4b5b6b7b8" + "00000001" + "6b3343cf");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicHeaderForm.Long, header.Form);
        Assert.Equal(QuicPacketType.VersionNegotiation, header.Type);
        Assert.Equal(0u, header.Version);
        Assert.Equal(Cid("a1a2a3a4"), header.Dcid);
        Assert.Equal(Cid("b1b2b3b4b5b6b7b8"), header.Scid);
    }

    [Theory]
    [InlineData(0xff00001dU)] // draft-29
    [InlineData(0x1a2a3a4aU)] // a reserved greasing version (RFC 9000 §15)
    public void Unknown_versions_still_yield_their_connection_ids(uint version)
    {
        var packet = LongHeader(0xc0, version, dcid: "0102030405", scid: "0607");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicPacketType.Unknown, header.Type);
        Assert.Equal(version, header.Version);
        Assert.Equal(Cid("0102030405"), header.Dcid);
        Assert.Equal(Cid("0607"), header.Scid);
    }

    [Fact]
    public void Short_header_with_a_12_byte_dcid()
    {
        var packet = Convert.FromHexString("43" + "000102030405060708090a0b" + "deadbeef");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicHeaderForm.Short, header.Form);
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
        Assert.Equal(0u, header.Version);
        Assert.Equal(Cid("000102030405060708090a0b"), header.Dcid);
        Assert.True(header.Scid.IsEmpty);
    }

    [Fact]
    public void Short_header_with_an_empty_dcid_needs_only_the_first_byte()
    {
        Assert.True(QuicHeaderParser.TryParse([0x41], 0, out var header));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
        Assert.True(header.Dcid.IsEmpty);
    }

    [Fact]
    public void Short_header_shorter_than_its_dcid_is_truncated()
    {
        var packet = Convert.FromHexString("40" + "000102030405060708090a");

        Assert.Equal(DropReason.Truncated, QuicHeaderParser.Parse(packet, 12, out var header));
        Assert.Equal(default, header.Dcid);
        Assert.False(QuicHeaderParser.TryParse(packet, 12, out _));
    }

    [Fact]
    public void Empty_datagram_is_truncated()
    {
        Assert.Equal(DropReason.Truncated, QuicHeaderParser.Parse([], 0, out _));
        Assert.Equal(DropReason.Truncated, QuicHeaderParser.Parse([], 12, out _));
    }

    [Theory]
    [InlineData(0x00)] // short, fixed bit greased to 0
    [InlineData(0x3f)]
    public void Short_header_with_a_greased_fixed_bit_is_accepted(byte firstByte)
    {
        var packet = Convert.FromHexString(firstByte.ToString("x2", null) + "000102030405060708090a0b");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
        Assert.Equal(Cid("000102030405060708090a0b"), header.Dcid);
    }

    [Theory]
    [InlineData(0x80, QuicPacketType.Initial)] // long, fixed bit greased to 0 (RFC 9287)
    [InlineData(0xa0, QuicPacketType.Handshake)]
    public void Long_header_with_a_greased_fixed_bit_is_accepted(byte firstByte, QuicPacketType expected)
    {
        var packet = LongHeader(firstByte, QuicVersions.V1, dcid: "0102", scid: "");

        Assert.True(QuicHeaderParser.TryParse(packet, 12, out var header));
        Assert.Equal(expected, header.Type);
        Assert.Equal(Cid("0102"), header.Dcid);
    }

    [Fact]
    public void Connection_ids_of_20_bytes_are_accepted()
    {
        var cid20 = new string('a', 40);
        var packet = LongHeader(0xc0, QuicVersions.V1, dcid: cid20, scid: cid20);

        Assert.True(QuicHeaderParser.TryParse(packet, 20, out var header));
        Assert.Equal(20, header.Dcid.Length);
        Assert.Equal(20, header.Scid.Length);

        var shortPacket = Convert.FromHexString("40" + cid20);
        Assert.True(QuicHeaderParser.TryParse(shortPacket, 20, out header));
        Assert.Equal(20, header.Dcid.Length);
    }

    [Theory]
    [InlineData(21)]
    [InlineData(255)]
    public void A_dcid_longer_than_20_bytes_is_refused(int length)
    {
        var packet = new byte[64];
        packet[0] = 0xc0;
        packet[4] = 1;
        packet[5] = (byte)length;

        Assert.Equal(DropReason.CidTooLong, QuicHeaderParser.Parse(packet, 12, out var header));
        Assert.Equal(default, header.Dcid);
        Assert.Equal(QuicHeaderForm.Short, header.Form); // the default, not half a parse
    }

    [Fact]
    public void A_scid_longer_than_20_bytes_is_refused()
    {
        var packet = new byte[64];
        packet[0] = 0xc0;
        packet[4] = 1;
        packet[5] = 4;
        packet[10] = 21;

        Assert.Equal(DropReason.CidTooLong, QuicHeaderParser.Parse(packet, 12, out _));
    }

    [Fact]
    public void Every_truncation_of_a_long_header_is_truncated()
    {
        var packet = LongHeader(0xc0, QuicVersions.V1, dcid: "0102030405060708", scid: "0a0b0c0d0e");
        var headerLength = 1 + 4 + 1 + 8 + 1 + 5;
        Assert.Equal(headerLength, packet.Length);

        for (var length = 0; length < headerLength; length++)
        {
            Assert.Equal(DropReason.Truncated, QuicHeaderParser.Parse(packet.AsSpan(0, length), 12, out var header));
            Assert.Equal(default, header.Dcid);
        }

        Assert.Equal(DropReason.None, QuicHeaderParser.Parse(packet, 12, out _));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(21)]
    [InlineData(int.MinValue)]
    public void Short_dcid_length_outside_0_to_20_is_an_argument_error(int shortDcidLength)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => QuicHeaderParser.Parse([0x40], shortDcidLength, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuicHeaderParser.TryParse([0xc0], shortDcidLength, out _));
    }

    private static ConnectionId Cid(string hex) => new(Convert.FromHexString(hex));

    private static byte[] LongHeader(byte firstByte, uint version, string dcid, string scid)
    {
        var d = Convert.FromHexString(dcid);
        var s = Convert.FromHexString(scid);
        return [firstByte, (byte)(version >> 24), (byte)(version >> 16), (byte)(version >> 8), (byte)version, (byte)d.Length, .. d, (byte)s.Length, .. s];
    }
}
