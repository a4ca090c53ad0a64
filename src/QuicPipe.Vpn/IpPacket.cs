using System.Buffers.Binary;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>Reads IPv4 and IPv6 packets as a TUN device (IFF_NO_PI) hands them over: raw, starting at the IP header.</summary>
public static class IpPacket
{
    /// <summary>
    /// Checks that <paramref name="packet"/> starts with a whole IPv4 or IPv6 packet and describes it. False for
    /// anything else: another version, an IPv4 header length below 20, a packet shorter than its header says, an
    /// IPv6 extension header chain that runs past the packet or longer than 8 headers. Checksums are not checked:
    /// the kernel that receives the packet checks them. Allocates nothing.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out IpPacketInfo info)
    {
        if (!packet.IsEmpty)
        {
            switch (packet[0] >> 4)
            {
                case 4:
                    return TryParseIPv4(packet, out info);
                case 6:
                    return TryParseIPv6(packet, out info);
            }
        }

        info = default;
        return false;
    }

    private static bool TryParseIPv4(ReadOnlySpan<byte> packet, out IpPacketInfo info)
    {
        info = default;
        if (packet.Length < IPv4Header.MinLength)
        {
            return false;
        }

        var headerLength = (packet[0] & 0x0F) * 4;
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet[IPv4Header.TotalLengthOffset..]);
        if (headerLength < IPv4Header.MinLength || totalLength < headerLength || totalLength > packet.Length)
        {
            return false;
        }

        var fragment = BinaryPrimitives.ReadUInt16BigEndian(packet[IPv4Header.FlagsOffset..]);
        var nonInitial = (fragment & IPv4Header.FragmentOffsetMask) != 0;
        var protocol = packet[IPv4Header.ProtocolOffset];

        // A later fragment carries no ICMP header to read; it is never answered anyway.
        var icmpError = protocol == IPv4Header.ProtocolIcmp && !nonInitial
            && (totalLength == headerLength || IPv4Header.IsIcmpErrorType(packet[headerLength]));
        info = new IpPacketInfo(4, headerLength, totalLength, protocol, icmpError, nonInitial, (fragment & IPv4Header.DontFragment) != 0);
        return true;
    }

    private static bool TryParseIPv6(ReadOnlySpan<byte> packet, out IpPacketInfo info)
    {
        info = default;
        if (packet.Length < IPv6Header.Length)
        {
            return false;
        }

        var totalLength = IPv6Header.Length + BinaryPrimitives.ReadUInt16BigEndian(packet[IPv6Header.PayloadLengthOffset..]);
        if (totalLength > packet.Length)
        {
            return false;
        }

        // Walk the extension headers to the upper layer: whether a packet is an ICMPv6 error, or a later fragment,
        // is only known there.
        var next = packet[IPv6Header.NextHeaderOffset];
        var offset = IPv6Header.Length;
        var nonInitial = false;
        var headers = 0;

        // After a later fragment's header come bytes of the middle of the original packet, not more headers.
        while (!nonInitial && next is (IPv6Header.HopByHop or IPv6Header.Routing or IPv6Header.DestinationOptions or IPv6Header.Fragment))
        {
            if (++headers > IPv6Header.MaxExtensionHeaders || offset + 2 > totalLength)
            {
                return false;
            }

            int length;
            if (next == IPv6Header.Fragment)
            {
                length = IPv6Header.FragmentHeaderLength;
                nonInitial = offset + length <= totalLength
                    && (BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]) & IPv6Header.FragmentOffsetMask) != 0;
            }
            else
            {
                length = (packet[offset + 1] + 1) * 8;
            }

            if (offset + length > totalLength)
            {
                return false;
            }

            next = packet[offset];
            offset += length;
        }

        var icmpError = next == IPv6Header.ProtocolIcmpV6 && !nonInitial
            && (offset == totalLength || IPv6Header.IsIcmpErrorType(packet[offset]));
        info = new IpPacketInfo(6, offset, totalLength, next, icmpError, nonInitial, dontFragment: true);
        return true;
    }
}
