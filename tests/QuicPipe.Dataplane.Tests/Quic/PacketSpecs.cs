using FsCheck;
using FsCheck.Fluent;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Dataplane.Tests.Quic;

/// <summary>A packet the tests build with <see cref="QuicPacketWriter"/>, described by its header fields.</summary>
internal abstract record PacketSpec(byte[] Dcid, int PayloadLength)
{
    public abstract int HeaderLength { get; }

    public abstract byte[] Write();
}

internal sealed record LongPacketSpec(uint Version, QuicPacketType Type, byte[] Dcid, byte[] Scid, int PayloadLength)
    : PacketSpec(Dcid, PayloadLength)
{
    public override int HeaderLength => 7 + Dcid.Length + Scid.Length;

    public override byte[] Write()
    {
        var packet = new byte[HeaderLength + PayloadLength];
        QuicPacketWriter.WriteLongHeader(packet, Version, Type, Dcid, Scid, PayloadLength);
        return packet;
    }

    public override string ToString() =>
        $"Long(0x{Version:x8}, {Type}, dcid {Convert.ToHexStringLower(Dcid)}, scid {Convert.ToHexStringLower(Scid)}, payload {PayloadLength})";
}

internal sealed record ShortPacketSpec(byte FirstByte, byte[] Dcid, int PayloadLength) : PacketSpec(Dcid, PayloadLength)
{
    public override int HeaderLength => 1 + Dcid.Length;

    public override byte[] Write()
    {
        var packet = new byte[HeaderLength + PayloadLength];
        QuicPacketWriter.WriteShortHeader(packet, Dcid, PayloadLength, FirstByte);
        return packet;
    }

    public override string ToString() => $"Short(0x{FirstByte:x2}, dcid {Convert.ToHexStringLower(Dcid)}, payload {PayloadLength})";
}

/// <summary>FsCheck generators of valid packets, and of valid packets with a few bytes changed.</summary>
internal static class PacketSpecs
{
    private static readonly Gen<byte> Bytes = ArbMap.Default.GeneratorFor<byte>();

    private static readonly Gen<byte[]> Cids =
        from length in Gen.Choose(0, ConnectionId.MaxLength)
        from bytes in Gen.ArrayOf(Bytes, length)
        select bytes;

    private static readonly Gen<int> PayloadLengths = Gen.Frequency((3, Gen.Choose(0, 16)), (1, Gen.Choose(0, 1400)));

    // Known versions often (they decide the type), any other version sometimes (the invariants still hold).
    private static readonly Gen<(uint Version, QuicPacketType Type)> VersionsAndTypes = Gen.OneOf(
        Gen.Constant((QuicVersions.Negotiation, QuicPacketType.VersionNegotiation)),
        Gen.Elements(QuicPacketType.Initial, QuicPacketType.ZeroRtt, QuicPacketType.Handshake, QuicPacketType.Retry)
            .SelectMany(_ => Gen.Elements(QuicVersions.V1, QuicVersions.V2), (type, version) => (version, type)),
        ArbMap.Default.GeneratorFor<uint>()
            .Where(v => v is not (QuicVersions.Negotiation or QuicVersions.V1 or QuicVersions.V2))
            .Select(v => (v, QuicPacketType.Unknown)));

    public static readonly Gen<LongPacketSpec> Long =
        from vt in VersionsAndTypes
        from dcid in Cids
        from scid in Cids
        from payloadLength in PayloadLengths
        select new LongPacketSpec(vt.Version, vt.Type, dcid, scid, payloadLength);

    public static readonly Gen<ShortPacketSpec> Short =
        from firstByte in Gen.Choose(0, 0x7f)
        from dcid in Cids
        from payloadLength in PayloadLengths
        select new ShortPacketSpec((byte)firstByte, dcid, payloadLength);

    /// <summary>Valid packets with three bytes among the first 48 (where every header field lives) overwritten.</summary>
    public static readonly Gen<byte[]> Mutated =
        from packet in Gen.OneOf(Long.Select(s => s.Write()), Short.Select(s => s.Write()))
        from edits in Gen.ListOf(Gen.Zip(Gen.Choose(0, 47), Bytes), 3)
        select Mutate(packet, edits);

    private static byte[] Mutate(byte[] packet, IEnumerable<(int Index, byte Value)> edits)
    {
        foreach (var (index, value) in edits)
        {
            if (index < packet.Length)
            {
                packet[index] = value;
            }
        }

        return packet;
    }
}
