using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class QuicHeaderParserFuzzTests
{
    private const int Datagrams = 1_000_000;
    private const int MaxDatagram = 1500;

    // Every header field lives in the first 1 + 4 + 1 + 20 + 1 + 20 bytes; randomising past that only costs time.
    private const int HeaderRegion = 48;

    [Fact]
    public void A_million_random_truncated_and_mutated_datagrams_never_throw()
    {
        var random = new Random(0x5eed);
        var buffer = new byte[MaxDatagram];
        random.NextBytes(buffer);
        var outcomes = new int[DropReasons.Count];

        for (var i = 0; i < Datagrams; i++)
        {
            var length = (i % 3) switch
            {
                0 => RandomBytes(random, buffer),
                1 => MutatedPacket(random, buffer),
                _ => TruncatedPacket(random, buffer),
            };

            var reason = QuicHeaderParser.Parse(buffer.AsSpan(0, length), random.Next(ConnectionId.MaxLength + 1), out var header);
            outcomes[(int)reason]++;
            if (reason == DropReason.None && header.Form != (buffer[0] >= 0x80 ? QuicHeaderForm.Long : QuicHeaderForm.Short))
            {
                Assert.Fail($"datagram {i} parsed with the wrong form: {Convert.ToHexStringLower(buffer.AsSpan(0, length))}");
            }
        }

        // Each outcome must occur often, or the loop would not be testing what its name says.
        Assert.True(outcomes[(int)DropReason.None] > Datagrams / 10, $"parsed {outcomes[(int)DropReason.None]}");
        Assert.True(outcomes[(int)DropReason.Truncated] > Datagrams / 10, $"truncated {outcomes[(int)DropReason.Truncated]}");
        Assert.True(outcomes[(int)DropReason.CidTooLong] > Datagrams / 100, $"cid too long {outcomes[(int)DropReason.CidTooLong]}");
        Assert.Equal(Datagrams, outcomes[(int)DropReason.None] + outcomes[(int)DropReason.Truncated] + outcomes[(int)DropReason.CidTooLong]);
    }

    private static int RandomBytes(Random random, byte[] buffer)
    {
        random.NextBytes(buffer.AsSpan(0, HeaderRegion));
        return random.Next(MaxDatagram + 1);
    }

    // A valid packet with one to three header-region bytes overwritten (often a length byte, since they are few).
    private static int MutatedPacket(Random random, byte[] buffer)
    {
        var length = ValidPacket(random, buffer);
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            var index = random.Next(4) == 0 ? 5 : random.Next(HeaderRegion);
            buffer[index] = (byte)random.Next(256);
        }

        return random.Next(2) == 0 ? length : random.Next(MaxDatagram + 1);
    }

    // Cut within the header region, where truncation changes the parse; a cut payload is still a valid header.
    private static int TruncatedPacket(Random random, byte[] buffer) => random.Next(Math.Min(ValidPacket(random, buffer), HeaderRegion) + 1);

    // Writes only a header (the writer's payload fill is not what is under test) and returns a datagram
    // length from the header to 1500 bytes: the bytes past the header are whatever the buffer holds.
    private static int ValidPacket(Random random, byte[] buffer)
    {
        Span<byte> dcid = stackalloc byte[random.Next(ConnectionId.MaxLength + 1)];
        random.NextBytes(dcid);
        if (random.Next(2) == 0)
        {
            return WithPayload(random, QuicPacketWriter.WriteShortHeader(buffer, dcid, 0, (byte)random.Next(0x80)));
        }

        Span<byte> scid = stackalloc byte[random.Next(ConnectionId.MaxLength + 1)];
        random.NextBytes(scid);
        var (version, type) = (random.Next(3)) switch
        {
            0 => (QuicVersions.V1, QuicPacketType.Handshake),
            1 => (QuicVersions.V2, QuicPacketType.Initial),
            _ => (0xff00001dU, QuicPacketType.Unknown),
        };
        return WithPayload(random, QuicPacketWriter.WriteLongHeader(buffer, version, type, dcid, scid, 0));
    }

    private static int WithPayload(Random random, int headerLength) =>
        random.Next(4) == 0 ? headerLength : random.Next(headerLength, MaxDatagram + 1);
}
