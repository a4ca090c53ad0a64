using System.Buffers.Binary;
using QuicPipe.Dataplane;

namespace QuicPipe.Vpn.Internal;

/// <summary>Writes an IPv6 packet carrying an ICMPv6 error about another packet (RFC 4443).</summary>
internal static class IcmpV6ErrorWriter
{
    /// <summary>The longest reply: "as much of invoking packet as possible without the ICMPv6 packet exceeding the minimum IPv6 MTU".</summary>
    public const int MaxLength = 1280;

    private const int ReplyHeaders = IPv6Header.Length + IPv6Header.IcmpHeaderLength;
    private const int PseudoHeaderLength = 40;
    private const byte HopLimit = 64;

    /// <summary>Writes the reply; <paramref name="restOfHeader"/> is ICMPv6 bytes 4-7: zero, or the MTU of a packet too big.</summary>
    public static int Write(
        ReadOnlySpan<byte> packet, in IpPacketInfo info, ReadOnlySpan<byte> source, byte type, byte code, uint restOfHeader, Span<byte> destination)
    {
        var quote = Math.Min(info.TotalLength, Math.Min(MaxLength, destination.Length) - ReplyHeaders);
        var needed = Math.Min(info.TotalLength, info.HeaderLength + 8);
        if (quote < needed)
        {
            throw new ArgumentException(
                $"An ICMPv6 error about this packet takes at least {ReplyHeaders + needed} bytes; the destination holds {destination.Length}.",
                nameof(destination));
        }

        // The checksum covers a pseudo-header (RFC 8200 §8.1): source, destination, upper-layer length, next header.
        // Filled first because it holds both addresses, which must be copied out before the quote moves:
        // destination may be packet's own buffer, and source may point into it.
        Span<byte> pseudo = stackalloc byte[PseudoHeaderLength];
        source.CopyTo(pseudo);
        info.Source(packet).CopyTo(pseudo[AddressBits.IPv6Length..]);
        var icmpLength = IPv6Header.IcmpHeaderLength + quote;
        BinaryPrimitives.WriteUInt32BigEndian(pseudo[32..], (uint)icmpLength);
        pseudo[36..39].Clear();
        pseudo[39] = IPv6Header.ProtocolIcmpV6;
        packet[..quote].CopyTo(destination[ReplyHeaders..]);

        var length = ReplyHeaders + quote;
        var icmp = destination[IPv6Header.Length..length];
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        var sum = InternetChecksum.Sum(pseudo, 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Finish(InternetChecksum.Sum(icmp, sum)));

        var ip = destination[..IPv6Header.Length];
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000); // version 6, traffic class 0, flow label 0
        BinaryPrimitives.WriteUInt16BigEndian(ip[IPv6Header.PayloadLengthOffset..], (ushort)icmpLength);
        ip[IPv6Header.NextHeaderOffset] = IPv6Header.ProtocolIcmpV6;
        ip[IPv6Header.HopLimitOffset] = HopLimit;
        pseudo[..(2 * AddressBits.IPv6Length)].CopyTo(ip[IPv6Header.SourceOffset..]);
        return length;
    }
}
