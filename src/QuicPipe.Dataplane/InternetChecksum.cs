using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane;

/// <summary>The Internet checksum (RFC 1071) of IPv4 headers, ICMP, ICMPv6, UDP and TCP.</summary>
/// <remarks>
/// Sums the words in the machine's byte order and swaps once at the end (RFC 1071 §2(B): the one's complement sum
/// does not care), so the loop is plain vector adds: 16-bit words widened into 32-bit lanes, which cannot
/// overflow within a block, then the lanes added into a 64-bit total and folded to 16 bits.
/// </remarks>
public static class InternetChecksum
{
    /// <summary>Vector iterations before the 32-bit lanes are emptied: each adds at most 2 x 0xFFFF to a lane.</summary>
    private const int VectorBlock = 32768;

    /// <summary>
    /// The checksum of <paramref name="data"/>, ready to store big-endian in the checksum field (which must be zero
    /// in <paramref name="data"/> while computing). Over data holding a correct checksum, the result is 0.
    /// </summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Sum(data, 0));

    /// <summary>
    /// Adds <paramref name="data"/> to a running sum (machine byte order, unfolded). Every chunk but the last must
    /// have an even length, or the words of the chunks after it pair up wrongly.
    /// </summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = data.Length;
        var offset = 0;
        if (Vector.IsHardwareAccelerated && length >= Vector<byte>.Count)
        {
            var lastStart = length - Vector<byte>.Count;
            while (offset <= lastStart)
            {
                var lanes = Vector<uint>.Zero;
                for (var i = 0; i < VectorBlock && offset <= lastStart; i++, offset += Vector<byte>.Count)
                {
                    var words = Vector.AsVectorUInt16(Vector.LoadUnsafe(ref start, (nuint)offset));
                    Vector.Widen(words, out var low, out var high);
                    lanes += low + high;
                }

                Vector.Widen(lanes, out var lanesLow, out var lanesHigh);
                sum += Vector.Sum(lanesLow + lanesHigh);
            }
        }

        // A 32-bit read adds w0 + w1 * 65536, which is w0 + w1 modulo 0xFFFF: the one's complement sum is that modulus.
        for (; offset + 4 <= length; offset += 4)
        {
            sum += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, offset));
        }

        if (offset + 2 <= length)
        {
            sum += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, offset));
            offset += 2;
        }

        if (offset < length)
        {
            // An odd last byte is the high byte of a word padded with zero (RFC 1071 §4.1).
            var last = Unsafe.Add(ref start, offset);
            sum += BitConverter.IsLittleEndian ? last : (ulong)last << 8;
        }

        return sum;
    }

    /// <summary>
    /// Stores the header checksum of the IPv4 header <paramref name="header"/> (exactly the header, options
    /// included), whatever its checksum field held before.
    /// </summary>
    public static void WriteIPv4HeaderChecksum(Span<byte> header)
    {
        header[10] = header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], Compute(header));
    }

    /// <summary>
    /// The running sum of the pseudo-header that TCP and UDP checksums cover (RFC 9293 §3.1, RFC 8200 §8.1): the
    /// source and destination addresses of the IPv4 or IPv6 packet <paramref name="ipPacket"/> starts with, the
    /// protocol and the transport length. Add the transport header and payload to it with <see cref="Sum"/>.
    /// </summary>
    public static ulong PseudoHeaderSum(ReadOnlySpan<byte> ipPacket, byte protocol, int transportLength)
    {
        var addresses = ipPacket[0] >> 4 == 4 ? ipPacket[12..20] : ipPacket[8..40];
        var sum = Sum(addresses, 0);

        // Both are big-endian words of the pseudo-header; the running sum holds words in machine order.
        sum += MachineWord((ushort)protocol) + MachineWord((ushort)transportLength);
        return sum;
    }

    /// <summary>Folds a running sum to 16 bits in network order and complements it: the value for the field.</summary>
    public static ushort Finish(ulong sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        var folded = (ushort)sum;
        return (ushort)~(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded);
    }

    private static ulong MachineWord(ushort networkValue) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkValue) : networkValue;
}
