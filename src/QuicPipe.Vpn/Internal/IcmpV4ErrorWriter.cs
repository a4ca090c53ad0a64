using System.Buffers.Binary;
using QuicPipe.Dataplane;

namespace QuicPipe.Vpn.Internal;

/// <summary>Writes an IPv4 packet carrying an ICMP error about another packet (RFC 792), quoting as Linux does.</summary>
internal static class IcmpV4ErrorWriter
{
    /// <summary>The longest reply: RFC 1812 §4.3.2.3 quotes "as much of the original datagram as possible" within 576 bytes.</summary>
    public const int MaxLength = 576;

    private const int ReplyHeaders = IPv4Header.MinLength + IPv4Header.IcmpHeaderLength;
    private const byte Ttl = 64;

    /// <summary>Writes the reply; <paramref name="restOfHeader"/> is ICMP bytes 4-7: zero, or the next-hop MTU in the low 16 bits.</summary>
    public static int Write(
        ReadOnlySpan<byte> packet, in IpPacketInfo info, ReadOnlySpan<byte> source, byte type, byte code, uint restOfHeader, Span<byte> destination)
    {
        // RFC 792 asks for the header and the first 8 bytes of payload at least: what holds the ports.
        var quote = Math.Min(info.TotalLength, Math.Min(MaxLength, destination.Length) - ReplyHeaders);
        var needed = Math.Min(info.TotalLength, info.HeaderLength + 8);
        if (quote < needed)
        {
            throw new ArgumentException(
                $"An ICMP error about this packet takes at least {ReplyHeaders + needed} bytes; the destination holds {destination.Length}.",
                nameof(destination));
        }

        // Copy the addresses out first and move the quote before writing headers: destination may be packet's own
        // buffer (an answer written in place), and source may point into it.
        Span<byte> addresses = stackalloc byte[2 * AddressBits.IPv4Length];
        source.CopyTo(addresses);
        info.Source(packet).CopyTo(addresses[AddressBits.IPv4Length..]);
        packet[..quote].CopyTo(destination[ReplyHeaders..]);

        var length = ReplyHeaders + quote;
        var icmp = destination[IPv4Header.MinLength..length];
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));

        var ip = destination[..IPv4Header.MinLength];
        ip[0] = 0x45; // version 4, 5 words: no options
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[IPv4Header.TotalLengthOffset..], (ushort)length);

        // DF makes the datagram atomic, so an identification of 0 is fine (RFC 6864 §4.1).
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[IPv4Header.FlagsOffset..], IPv4Header.DontFragment);
        ip[IPv4Header.TtlOffset] = Ttl;
        ip[IPv4Header.ProtocolOffset] = IPv4Header.ProtocolIcmp;

        // Ours as the source, the offending packet's source as the destination.
        addresses.CopyTo(ip[IPv4Header.SourceOffset..]);
        InternetChecksum.WriteIPv4HeaderChecksum(ip);
        return length;
    }
}
