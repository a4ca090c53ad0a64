using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace QuicPipe.Dataplane.Wire;

/// <summary>
/// Reads the version-independent header fields of a QUIC datagram (RFC 8999): form, version,
/// connection IDs, and the packet type for versions we know. Pure and allocation-free; bad input is
/// reported as a <see cref="DropReason"/>, never thrown, because every byte here comes from the network.
/// </summary>
/// <remarks>
/// The fixed bit (0x40) is deliberately not checked: RFC 9287 lets endpoints grease it, and a relay
/// that dropped such packets would break connections that negotiated greasing end to end.
/// </remarks>
public static class QuicHeaderParser
{
    // First byte, 4-byte version, DCID length byte: the least a long header can be before its CIDs.
    private const int LongHeaderPrefixLength = 6;

    private const byte LongFormBit = 0x80;

    // Packet type by the two type bits (0x30) of the first byte, one table per version: RFC 9000 §17.2
    // for v1, RFC 9369 §3.2 for v2 (which reshuffled the codes so middleboxes cannot ossify on v1's).
    private static ReadOnlySpan<byte> V1Types =>
    [
        (byte)QuicPacketType.Initial, (byte)QuicPacketType.ZeroRtt, (byte)QuicPacketType.Handshake, (byte)QuicPacketType.Retry,
    ];

    private static ReadOnlySpan<byte> V2Types =>
    [
        (byte)QuicPacketType.Retry, (byte)QuicPacketType.Initial, (byte)QuicPacketType.ZeroRtt, (byte)QuicPacketType.Handshake,
    ];

    /// <summary>Parses the header of <paramref name="datagram"/>; false if it is malformed.</summary>
    /// <param name="datagram">One UDP payload.</param>
    /// <param name="shortDcidLength">
    /// The DCID length of short-header packets (0 to 20). Short headers do not carry it, so the
    /// relay must know the length its peers use.
    /// </param>
    /// <param name="header">The parsed header, or default on failure.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> datagram, int shortDcidLength, out QuicHeader header) =>
        Parse(datagram, shortDcidLength, out header) == DropReason.None;

    /// <summary>
    /// Parses the header of <paramref name="datagram"/>: <see cref="DropReason.None"/> on success,
    /// otherwise why the datagram must be dropped (<see cref="DropReason.Truncated"/> or
    /// <see cref="DropReason.CidTooLong"/>), with <paramref name="header"/> set to default.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shortDcidLength"/> is not 0 to 20.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Parse(ReadOnlySpan<byte> datagram, int shortDcidLength, out QuicHeader header)
    {
        if ((uint)shortDcidLength > ConnectionId.MaxLength)
        {
            ThrowShortDcidLengthOutOfRange(shortDcidLength);
        }

        if (datagram.IsEmpty)
        {
            header = default;
            return DropReason.Truncated;
        }

        if ((datagram[0] & LongFormBit) != 0)
        {
            return ParseLong(datagram, out header);
        }

        // Short headers (1-RTT) are the steady-state traffic, so they take the inlined path.
        if (datagram.Length <= shortDcidLength)
        {
            header = default;
            return DropReason.Truncated;
        }

        header = default;
        header.Form = QuicHeaderForm.Short;
        header.Type = QuicPacketType.OneRtt;
        header.Dcid = new ConnectionId(datagram.Slice(1, shortDcidLength));
        return DropReason.None;
    }

    private static DropReason ParseLong(ReadOnlySpan<byte> datagram, out QuicHeader header)
    {
        header = default;
        if (datagram.Length < LongHeaderPrefixLength)
        {
            return DropReason.Truncated;
        }

        var dcidLength = (int)datagram[LongHeaderPrefixLength - 1];
        if (dcidLength > ConnectionId.MaxLength)
        {
            return DropReason.CidTooLong;
        }

        var scidLengthOffset = LongHeaderPrefixLength + dcidLength;
        if ((uint)scidLengthOffset >= (uint)datagram.Length)
        {
            return DropReason.Truncated;
        }

        var scidLength = (int)datagram[scidLengthOffset];
        if (scidLength > ConnectionId.MaxLength)
        {
            return DropReason.CidTooLong;
        }

        if (datagram.Length - (scidLengthOffset + 1) < scidLength)
        {
            return DropReason.Truncated;
        }

        var version = BinaryPrimitives.ReadUInt32BigEndian(datagram[1..]);
        header.Form = QuicHeaderForm.Long;
        header.Version = version;
        header.Type = LongType(datagram[0], version);
        header.Dcid = new ConnectionId(datagram.Slice(LongHeaderPrefixLength, dcidLength));
        header.Scid = new ConnectionId(datagram.Slice(scidLengthOffset + 1, scidLength));
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static QuicPacketType LongType(byte firstByte, uint version)
    {
        var typeBits = (firstByte >> 4) & 0x3;
        return version switch
        {
            QuicVersions.Negotiation => QuicPacketType.VersionNegotiation,
            QuicVersions.V1 => (QuicPacketType)V1Types[typeBits],
            QuicVersions.V2 => (QuicPacketType)V2Types[typeBits],

            // Unknown versions still obey the invariants, so their CIDs route; only the type is opaque.
            _ => QuicPacketType.Unknown,
        };
    }

    [DoesNotReturn]
    private static void ThrowShortDcidLengthOutOfRange(int shortDcidLength) =>
        throw new ArgumentOutOfRangeException(
            nameof(shortDcidLength), shortDcidLength, $"A short-header DCID has 0 to {ConnectionId.MaxLength} bytes.");
}
