using FsCheck;
using FsCheck.Fluent;
using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class QuicHeaderParserPropertyTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(2000);

    [Fact]
    public void Written_long_headers_parse_back_to_their_fields()
    {
        Check.One(Config, Prop.ForAll(PacketSpecs.Long.ToArbitrary(), spec =>
        {
            var packet = spec.Write();
            var reason = QuicHeaderParser.Parse(packet, 12, out var header);
            return reason == DropReason.None &&
                header.Form == QuicHeaderForm.Long &&
                header.Version == spec.Version &&
                header.Type == spec.Type &&
                header.Dcid == new ConnectionId(spec.Dcid) &&
                header.Scid == new ConnectionId(spec.Scid);
        }));
    }

    [Fact]
    public void Written_short_headers_parse_back_to_their_fields()
    {
        Check.One(Config, Prop.ForAll(PacketSpecs.Short.ToArbitrary(), spec =>
        {
            var packet = spec.Write();
            var reason = QuicHeaderParser.Parse(packet, spec.Dcid.Length, out var header);
            return reason == DropReason.None &&
                header.Form == QuicHeaderForm.Short &&
                header.Type == QuicPacketType.OneRtt &&
                header.Version == 0 &&
                header.Dcid == new ConnectionId(spec.Dcid) &&
                header.Scid.IsEmpty;
        }));
    }

    [Fact]
    public void Every_prefix_shorter_than_the_header_is_truncated()
    {
        var specs = Gen.OneOf(PacketSpecs.Long.Select(s => (PacketSpec)s), PacketSpecs.Short.Select(s => (PacketSpec)s));
        Check.One(Config, Prop.ForAll(specs.ToArbitrary(), spec =>
        {
            var packet = spec.Write();
            for (var length = 0; length < spec.HeaderLength; length++)
            {
                if (QuicHeaderParser.Parse(packet.AsSpan(0, length), spec.Dcid.Length, out var header) != DropReason.Truncated ||
                    header.Dcid != default)
                {
                    return false;
                }
            }

            return QuicHeaderParser.TryParse(packet.AsSpan(0, spec.HeaderLength), spec.Dcid.Length, out _);
        }));
    }

    [Fact]
    public void Any_bytes_either_parse_consistently_or_give_a_reason()
    {
        var inputs =
            from bytes in Gen.OneOf(ArbMap.Default.GeneratorFor<byte[]>(), PacketSpecs.Mutated)
            from shortDcidLength in Gen.Choose(0, ConnectionId.MaxLength)
            select (bytes, shortDcidLength);
        Check.One(Config, Prop.ForAll(inputs.ToArbitrary(), input =>
        {
            var (bytes, shortDcidLength) = input;
            var reason = QuicHeaderParser.Parse(bytes, shortDcidLength, out var header);
            return reason switch
            {
                DropReason.None => ParsedFieldsMatchTheBytes(bytes, shortDcidLength, header),
                DropReason.Truncated or DropReason.CidTooLong => header.Equals(default(QuicHeader)),
                _ => false,
            };
        }));
    }

    // An independent reading of RFC 8999's layout, to check the parser against rather than trust it.
    private static bool ParsedFieldsMatchTheBytes(byte[] bytes, int shortDcidLength, QuicHeader header)
    {
        if ((bytes[0] & 0x80) == 0)
        {
            return header.Form == QuicHeaderForm.Short && header.Dcid == new ConnectionId(bytes.AsSpan(1, shortDcidLength));
        }

        var dcidLength = bytes[5];
        var scidLength = bytes[6 + dcidLength];
        var version = (uint)(bytes[1] << 24 | bytes[2] << 16 | bytes[3] << 8 | bytes[4]);
        return header.Form == QuicHeaderForm.Long &&
            header.Version == version &&
            header.Dcid == new ConnectionId(bytes.AsSpan(6, dcidLength)) &&
            header.Scid == new ConnectionId(bytes.AsSpan(7 + dcidLength, scidLength));
    }
}
