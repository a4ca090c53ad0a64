using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// Answers an undeliverable IP packet with an ICMP (IPv4) or ICMPv6 (IPv6) error, written as a whole IP packet
/// ready for the TUN device. The family follows the packet's. Each writer returns the reply's length, or 0 when the
/// packet must not be answered: not an IP packet, itself an ICMP error, a later fragment, from a source that names
/// no single host (unspecified, loopback, multicast, broadcast), or to a multicast or broadcast destination
/// (RFC 1122 §3.2.2, RFC 4443 §2.4(e)). Allocates nothing.
/// </summary>
/// <remarks>
/// The destination may be the packet's own buffer (the answer is written in place), provided it holds the reply.
/// Replies quote as much of the packet as fits in 576 bytes (IPv4, as Linux does) or 1280 (IPv6, RFC 4443), and
/// never less than its headers and 8 bytes of payload: a smaller destination is a programming error and throws.
/// </remarks>
public static class IcmpError
{
    /// <summary>A destination this long holds any reply.</summary>
    public const int MaxLength = IcmpV6ErrorWriter.MaxLength;

    /// <summary>The least MTU an IPv4 link may have (RFC 791).</summary>
    private const int MinIPv4Mtu = 68;

    /// <summary>The least MTU an IPv6 link may have (RFC 8200 §5).</summary>
    private const int MinIPv6Mtu = 1280;

    /// <summary>
    /// Writes a destination unreachable from <paramref name="source"/> (our address, 4 or 16 bytes as the packet's
    /// family) to the packet's source.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not of the packet's family, or the destination is too small.</exception>
    public static int WriteUnreachable(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> source, UnreachableReason reason, Span<byte> destination)
    {
        if (!TryParseAnswerable(packet, source, packetTooBig: false, out var info))
        {
            return 0;
        }

        var noRoute = reason == UnreachableReason.NoRoute;
        return info.Version == 4
            ? IcmpV4ErrorWriter.Write(
                packet,
                info,
                source,
                IPv4Header.IcmpDestinationUnreachable,
                noRoute ? IPv4Header.IcmpCodeNetUnreachable : IPv4Header.IcmpCodeHostUnreachable,
                restOfHeader: 0,
                destination)
            : IcmpV6ErrorWriter.Write(
                packet,
                info,
                source,
                IPv6Header.IcmpDestinationUnreachable,
                noRoute ? IPv6Header.IcmpCodeNoRoute : IPv6Header.IcmpCodeAddressUnreachable,
                restOfHeader: 0,
                destination);
    }

    /// <summary>
    /// Writes "packet too big" with the <paramref name="mtu"/> the packet must fit: for IPv4, destination unreachable
    /// code 4 (fragmentation needed and DF set) with the next-hop MTU; for IPv6, ICMPv6 packet too big. Whether an
    /// IPv4 packet without DF should be fragmented instead is the caller's call (<see cref="IpPacketInfo.DontFragment"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not of the packet's family, or the destination is too small.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mtu"/> is below the family's minimum (68, 1280) or, for IPv4, above 65535.</exception>
    public static int WritePacketTooBig(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> source, int mtu, Span<byte> destination)
    {
        if (!TryParseAnswerable(packet, source, packetTooBig: true, out var info))
        {
            return 0;
        }

        if (info.Version == 4)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(mtu, MinIPv4Mtu);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, ushort.MaxValue);
            return IcmpV4ErrorWriter.Write(
                packet,
                info,
                source,
                IPv4Header.IcmpDestinationUnreachable,
                IPv4Header.IcmpCodeFragmentationNeeded,
                (uint)mtu,
                destination);
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, MinIPv6Mtu);
        return IcmpV6ErrorWriter.Write(packet, info, source, IPv6Header.IcmpPacketTooBig, code: 0, (uint)mtu, destination);
    }

    private static bool TryParseAnswerable(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> source, bool packetTooBig, out IpPacketInfo info)
    {
        if (!IpPacket.TryParse(packet, out info))
        {
            return false;
        }

        if (source.Length != info.AddressLength)
        {
            throw new ArgumentException(
                $"The reply's source must be an IPv{info.Version} address of {info.AddressLength} bytes, as the packet is; it has {source.Length}.",
                nameof(source));
        }

        return IcmpErrorPolicy.MayAnswer(packet, info, packetTooBig);
    }
}
