using System.Buffers.Binary;

namespace QuicPipe.Dataplane.Wire;

/// <summary>
/// Builds QUIC-shaped datagrams for tests, benchmarks and load generators: a real header with the
/// given fields, followed by a filler payload. Nothing is encrypted or protected; the relay never
/// looks past the connection IDs, so such packets exercise the same paths as real ones.
/// </summary>
public static class QuicPacketWriter
{
    /// <summary>
    /// Writes a short-header packet: <paramref name="firstByte"/>, the DCID, then
    /// <paramref name="payloadLength"/> filler bytes. Returns the bytes written.
    /// </summary>
    /// <remarks>
    /// The high bit of <paramref name="firstByte"/> must be clear (that is what makes the header short).
    /// The default sets only the fixed bit; pass a value without 0x40 to model a greased fixed bit.
    /// </remarks>
    public static int WriteShortHeader(Span<byte> destination, ReadOnlySpan<byte> dcid, int payloadLength, byte firstByte = 0x40)
    {
        if ((firstByte & 0x80) != 0)
        {
            throw new ArgumentException("A short header's first byte has the high bit clear.", nameof(firstByte));
        }

        CheckCid(dcid, nameof(dcid));
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        var headerLength = 1 + dcid.Length;
        var total = CheckFits(destination, headerLength, payloadLength);

        destination[0] = firstByte;
        dcid.CopyTo(destination[1..]);
        FillPayload(destination[headerLength..total]);
        return total;
    }

    /// <summary>
    /// Writes a long-header packet: first byte (form and fixed bits, type bits for v1/v2), version,
    /// DCID and SCID with their lengths, then <paramref name="payloadLength"/> filler bytes. Returns the
    /// bytes written. The version-specific fields after the SCID (token, length, packet number) are not
    /// written: they are part of the filler, as far as a relay is concerned.
    /// </summary>
    /// <remarks>
    /// <paramref name="type"/> must suit the version: <see cref="QuicPacketType.VersionNegotiation"/> for
    /// version 0; Initial, ZeroRtt, Handshake or Retry for v1 and v2; <see cref="QuicPacketType.Unknown"/>
    /// for any other version.
    /// </remarks>
    public static int WriteLongHeader(
        Span<byte> destination, uint version, QuicPacketType type, ReadOnlySpan<byte> dcid, ReadOnlySpan<byte> scid, int payloadLength)
    {
        var firstByte = (byte)(0xC0 | (TypeBits(version, type) << 4));
        CheckCid(dcid, nameof(dcid));
        CheckCid(scid, nameof(scid));
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        var headerLength = 1 + 4 + 1 + dcid.Length + 1 + scid.Length;
        var total = CheckFits(destination, headerLength, payloadLength);

        destination[0] = firstByte;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], version);
        destination[5] = (byte)dcid.Length;
        dcid.CopyTo(destination[6..]);
        destination[6 + dcid.Length] = (byte)scid.Length;
        scid.CopyTo(destination[(7 + dcid.Length)..]);
        FillPayload(destination[headerLength..total]);
        return total;
    }

    private static int TypeBits(uint version, QuicPacketType type) => (version, type) switch
    {
        (QuicVersions.Negotiation, QuicPacketType.VersionNegotiation) => 0,
        (QuicVersions.V1, QuicPacketType.Initial) => 0,
        (QuicVersions.V1, QuicPacketType.ZeroRtt) => 1,
        (QuicVersions.V1, QuicPacketType.Handshake) => 2,
        (QuicVersions.V1, QuicPacketType.Retry) => 3,
        (QuicVersions.V2, QuicPacketType.Retry) => 0,
        (QuicVersions.V2, QuicPacketType.Initial) => 1,
        (QuicVersions.V2, QuicPacketType.ZeroRtt) => 2,
        (QuicVersions.V2, QuicPacketType.Handshake) => 3,
        (not (QuicVersions.Negotiation or QuicVersions.V1 or QuicVersions.V2), QuicPacketType.Unknown) => 0,
        _ => throw new ArgumentException($"Packet type {type} is not a long-header type of version 0x{version:x8}.", nameof(type)),
    };

    private static void CheckCid(ReadOnlySpan<byte> cid, string paramName)
    {
        if (cid.Length > ConnectionId.MaxLength)
        {
            throw new ArgumentException($"A connection ID has at most {ConnectionId.MaxLength} bytes; got {cid.Length}.", paramName);
        }
    }

    private static int CheckFits(Span<byte> destination, int headerLength, int payloadLength)
    {
        var total = (long)headerLength + payloadLength;
        if (total > destination.Length)
        {
            throw new ArgumentException($"The packet needs {total} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        return (int)total;
    }

    // A counting pattern: recognisable in a hex dump, and it makes a forwarded copy checkable byte for byte.
    private static void FillPayload(Span<byte> payload)
    {
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)i;
        }
    }
}
