using System.Buffers.Binary;
using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// A source address, or its prefix (a /24 for IPv4, a /64 for IPv6: what one host or one small network usually
/// holds), as a key for per-source limits. Ports do not count; IPv4-mapped IPv6 addresses count as the IPv4 address.
/// </summary>
public readonly record struct SourceAddressKey
{
    private readonly byte _family;
    private readonly ulong _high;
    private readonly ulong _low;

    private SourceAddressKey(byte family, ulong high, ulong low)
    {
        _family = family;
        _high = high;
        _low = low;
    }

    /// <summary>The keys of <paramref name="source"/>'s address and of its /24 or /64.</summary>
    public static (SourceAddressKey Address, SourceAddressKey Prefix) Of(in PeerAddress source)
    {
        var bytes = source.AddressBytes;
        if (source.IsIPv6 && !IsIPv4Mapped(bytes))
        {
            var high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
            var low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
            return (new SourceAddressKey(6, high, low), new SourceAddressKey(6, high, 0));
        }

        var v4 = source.IsIPv6 ? BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]) : bytes.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : 0u;
        return (new SourceAddressKey(4, 0, v4), new SourceAddressKey(4, 0, v4 & 0xFFFFFF00u));
    }

    private static bool IsIPv4Mapped(ReadOnlySpan<byte> v6) =>
        v6[..10].IndexOfAnyExcept((byte)0) < 0 && v6[10] == 0xFF && v6[11] == 0xFF;
}
