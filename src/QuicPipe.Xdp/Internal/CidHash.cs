using System.Buffers.Binary;
using System.Numerics;

namespace QuicPipe.Xdp.Internal;

/// <summary>
/// The route table's hash, the C# twin of <c>qp_cid_hash</c> (bpf/quicpipe_hash.h): SipHash-1-3 of the 20-byte route
/// key. Both sides must agree bit for bit, or the program looks for routes where userspace did not put them.
/// </summary>
internal static class CidHash
{
    /// <summary>SipHash-1-3 of <paramref name="key"/>'s 20 bytes under (<paramref name="k0"/>, <paramref name="k1"/>).</summary>
    public static ulong Compute(ulong k0, ulong k1, CidKey key) => SipHash(k0, k1, key, compressionRounds: 1, finalizationRounds: 3);

    /// <summary>
    /// SipHash-c-d (Aumasson and Bernstein) of any message: little-endian 64-bit words, the length's low byte in the
    /// last word's top byte. General so that tests can check it against the paper's SipHash-2-4 vector.
    /// </summary>
    public static ulong SipHash(ulong k0, ulong k1, ReadOnlySpan<byte> message, int compressionRounds, int finalizationRounds)
    {
        var v0 = k0 ^ 0x736f6d6570736575UL;
        var v1 = k1 ^ 0x646f72616e646f6dUL;
        var v2 = k0 ^ 0x6c7967656e657261UL;
        var v3 = k1 ^ 0x7465646279746573UL;

        var whole = message.Length & ~7;
        for (var offset = 0; offset < whole; offset += 8)
        {
            var m = BinaryPrimitives.ReadUInt64LittleEndian(message[offset..]);
            v3 ^= m;
            Rounds(ref v0, ref v1, ref v2, ref v3, compressionRounds);
            v0 ^= m;
        }

        var last = (ulong)(byte)message.Length << 56;
        var tail = message[whole..];
        for (var i = 0; i < tail.Length; i++)
        {
            last |= (ulong)tail[i] << (8 * i);
        }

        v3 ^= last;
        Rounds(ref v0, ref v1, ref v2, ref v3, compressionRounds);
        v0 ^= last;
        v2 ^= 0xff;
        Rounds(ref v0, ref v1, ref v2, ref v3, finalizationRounds);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static void Rounds(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3, int rounds)
    {
        for (var r = 0; r < rounds; r++)
        {
            v0 += v1;
            v1 = BitOperations.RotateLeft(v1, 13);
            v1 ^= v0;
            v0 = BitOperations.RotateLeft(v0, 32);
            v2 += v3;
            v3 = BitOperations.RotateLeft(v3, 16);
            v3 ^= v2;
            v0 += v3;
            v3 = BitOperations.RotateLeft(v3, 21);
            v3 ^= v0;
            v2 += v1;
            v1 = BitOperations.RotateLeft(v1, 17);
            v1 ^= v2;
            v2 = BitOperations.RotateLeft(v2, 32);
        }
    }
}
