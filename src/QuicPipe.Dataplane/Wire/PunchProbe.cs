using System.Buffers.Binary;

namespace QuicPipe.Dataplane.Wire;

/// <summary>
/// The hole-punch probe: a small UDP datagram that is not QUIC, sent between two peers' sockets to open their NATs
/// and find a direct path. Layout (docs/nat-traversal.md):
/// <code>
/// 0      1..3   4        5      6..21          22..29
/// 0x00   "QPh"  version  kind   token (16 B)   echo (8 B, big-endian)
/// </code>
/// The first byte has QUIC's fixed bit clear, so no QUIC stack takes a probe for a packet. The token is the
/// connection's punch token, exchanged through the relay's authenticated signalling: a probe with an unknown
/// token is dropped unanswered, so probes cannot be used to reflect traffic at third parties. A pong copies the
/// ping's echo field back (the sender's clock when it sent the ping), which gives the path's round-trip time.
/// </summary>
internal static class PunchProbe
{
    public const int Length = 30;
    public const int TokenLength = 16;
    private const byte Version = 1;

    public static void Write(Span<byte> destination, PunchProbeKind kind, ReadOnlySpan<byte> token, ulong echo)
    {
        if (token.Length != TokenLength)
        {
            throw new ArgumentException($"A punch token is {TokenLength} bytes.", nameof(token));
        }

        destination[0] = 0x00;
        destination[1] = (byte)'Q';
        destination[2] = (byte)'P';
        destination[3] = (byte)'h';
        destination[4] = Version;
        destination[5] = (byte)kind;
        token.CopyTo(destination[6..]);
        BinaryPrimitives.WriteUInt64BigEndian(destination[22..], echo);
    }

    /// <summary>False for anything that is not a probe of our version (it is then someone else's datagram).</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out PunchProbeKind kind, out UInt128 token, out ulong echo)
    {
        kind = default;
        token = default;
        echo = 0;
        if (datagram.Length != Length || datagram[0] != 0x00 || datagram[1] != 'Q' || datagram[2] != 'P' || datagram[3] != 'h' || datagram[4] != Version)
        {
            return false;
        }

        kind = (PunchProbeKind)datagram[5];
        if (kind is not (PunchProbeKind.Ping or PunchProbeKind.Pong))
        {
            return false;
        }

        token = TokenKey(datagram.Slice(6, TokenLength));
        echo = BinaryPrimitives.ReadUInt64BigEndian(datagram[22..]);
        return true;
    }

    /// <summary>
    /// The token's 16 opaque bytes as a lookup key. Not a number on the wire: any fixed reading would do, and the
    /// machine's own order costs nothing.
    /// </summary>
    public static UInt128 TokenKey(ReadOnlySpan<byte> token) => BinaryPrimitives.ReadUInt128LittleEndian(token);
}

internal enum PunchProbeKind : byte
{
    Ping = 1,
    Pong = 2,
}
