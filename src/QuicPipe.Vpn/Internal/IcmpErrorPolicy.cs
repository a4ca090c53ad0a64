namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Which packets may be answered with an ICMP error at all: never an error about an error, about a later fragment,
/// or to a source that names no single host, lest errors multiply or reach a crowd (RFC 1122 §3.2.2,
/// RFC 4443 §2.4(e)).
/// </summary>
internal static class IcmpErrorPolicy
{
    public static bool MayAnswer(ReadOnlySpan<byte> packet, in IpPacketInfo info, bool packetTooBig)
    {
        if (info.IsIcmpError || info.IsNonInitialFragment)
        {
            return false;
        }

        var source = info.Source(packet);
        var destination = info.Destination(packet);
        if (info.Version == 4)
        {
            // Source: "this network" 0/8, loopback 127/8, multicast 224/4, class E 240/4 with the broadcast address.
            // Destination: multicast, class E, broadcast. (A subnet's directed broadcast is not known here.)
            return source[0] is not (0 or 127 or >= 224) && destination[0] < 224;
        }

        // Unspecified, loopback and multicast sources; multicast destinations, except that a packet too big is
        // reported to a multicast sender so that path MTU discovery works for it (RFC 4443 §2.4(e.3)).
        return !IsUnspecifiedOrLoopback(source) && source[0] != 0xFF && (packetTooBig || destination[0] != 0xFF);
    }

    private static bool IsUnspecifiedOrLoopback(ReadOnlySpan<byte> address) =>
        address[..15].IndexOfAnyExcept((byte)0) < 0 && address[15] <= 1;
}
