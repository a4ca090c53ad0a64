using System.Buffers.Binary;
using System.Security.Cryptography;

namespace QuicPipe.Dataplane.Wire;

/// <summary>
/// The QUIC engine's own path probe (QuicPipe.Quic's <c>QuicConnection.ProbePathAsync</c>): ngtcp2 0.12 sends PATH_CHALLENGE
/// only as part of a migration, so probing a path without moving to it takes a datagram of our own.
/// <code>
/// 0      1..3   4        5      6..13      14..21   22..37
/// 0x00   "QPp"  version  kind   probe id   nonce    tag: HMAC-SHA256(key, bytes 0..21), first 16 bytes
/// </code>
/// The first byte has QUIC's fixed bit clear, so no QUIC packet looks like a probe and the dataplane hands probes
/// to the endpoint's unroutable path. The probe id names the connection and the key authenticates the probe; both
/// come from the TLS exporter (derived by the engine, which keeps the label; this type only lays out, reads and
/// authenticates a probe given the key), so only the two ends of the connection can make a probe the other
/// answers: a stranger cannot aim answers at a third party. An answer is as large as its challenge.
/// </summary>
internal static class PathProbe
{
    public const int Length = 38;

    /// <summary>The length of the HMAC-SHA256 key that tags a probe.</summary>
    public const int KeyLength = 32;

    private const byte Version = 1;
    private const int TagOffset = 22;
    private const int TagLength = 16;

    public static bool LooksLikeProbe(ReadOnlySpan<byte> datagram) =>
        datagram.Length == Length && datagram[0] == 0x00 && datagram[1] == (byte)'Q' && datagram[2] == (byte)'P' && datagram[3] == (byte)'p';

    /// <summary>Reads a datagram that <see cref="LooksLikeProbe"/>; false for an unknown version or kind.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out PathProbeKind kind, out ulong probeId, out ulong nonce)
    {
        kind = (PathProbeKind)datagram[5];
        probeId = BinaryPrimitives.ReadUInt64BigEndian(datagram[6..]);
        nonce = BinaryPrimitives.ReadUInt64BigEndian(datagram[14..]);
        return datagram[4] == Version && kind is PathProbeKind.Challenge or PathProbeKind.Response;
    }

    public static void Write(Span<byte> destination, PathProbeKind kind, ulong probeId, ulong nonce, ReadOnlySpan<byte> key)
    {
        destination[0] = 0x00;
        destination[1] = (byte)'Q';
        destination[2] = (byte)'P';
        destination[3] = (byte)'p';
        destination[4] = Version;
        destination[5] = (byte)kind;
        BinaryPrimitives.WriteUInt64BigEndian(destination[6..], probeId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[14..], nonce);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, destination[..TagOffset], mac);
        mac[..TagLength].CopyTo(destination[TagOffset..Length]);
    }

    /// <summary>True if the datagram's tag is the one <paramref name="key"/> gives (compared in constant time).</summary>
    public static bool HasValidTag(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, datagram[..TagOffset], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..TagLength], datagram[TagOffset..Length]);
    }
}
