using System.Buffers.Binary;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Dataplane;

/// <summary>
/// Derives connection IDs from a secret key and a counter, so that a peer can tell the relay which
/// CIDs it will use before it uses them: CID(n) = BLAKE2b(key, counter n as 4 bytes big-endian) with
/// the digest length set to the CID length (a BLAKE2b parameter, not a truncation), then the top bit
/// of byte 0 set to the <see cref="CidNamespace"/>. Counters start at 1.
/// </summary>
/// <remarks>
/// Vector: key = bytes 00..0f, counter 1, 12 bytes: BLAKE2b gives <c>ab5c2c4c9385fb1b29934723</c>;
/// as a peer-to-peer CID that is <c>2b5c2c4c9385fb1b29934723</c>. Matches the Quicpipe design this
/// project started from, so CIDs interoperate with it.
/// </remarks>
public static class CidDerivation
{
    public const int MinKeyLength = 16;
    public const int MaxKeyLength = 64;

    /// <summary>Shortest CID we derive: below this, chance collisions between peers' CIDs stop being negligible.</summary>
    public const int MinLength = 4;

    public static unsafe ConnectionId Derive(ReadOnlySpan<byte> key, uint counter, int length = 12, CidNamespace ns = CidNamespace.PeerToPeer)
    {
        if (key.Length is < MinKeyLength or > MaxKeyLength)
        {
            throw new ArgumentException($"A CID key has {MinKeyLength} to {MaxKeyLength} bytes, not {key.Length}.", nameof(key));
        }

        if (length is < MinLength or > ConnectionId.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A derived CID has {MinLength} to {ConnectionId.MaxLength} bytes.");
        }

        Span<byte> input = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32BigEndian(input, counter);
        Span<byte> digest = stackalloc byte[length];
        fixed (byte* output = digest)
        fixed (byte* message = input)
        fixed (byte* secret = key)
        {
            if (Blake2.Blake2b(output, message, secret, (nuint)length, (nuint)input.Length, (nuint)key.Length) != 0)
            {
                // Lengths were checked above, so this means a broken library, not bad input.
                throw new InvalidOperationException("libb2's blake2b refused valid lengths.");
            }
        }

        digest[0] = ns == CidNamespace.Relay ? (byte)(digest[0] | 0x80) : (byte)(digest[0] & 0x7f);
        return new ConnectionId(digest);
    }

    /// <summary>The namespace a CID belongs to, from the top bit of its first byte (an empty CID is peer-to-peer).</summary>
    public static CidNamespace NamespaceOf(in ConnectionId cid) =>
        !cid.IsEmpty && (cid.Span[0] & 0x80) != 0 ? CidNamespace.Relay : CidNamespace.PeerToPeer;
}
