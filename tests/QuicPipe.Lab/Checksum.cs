using System.Buffers.Binary;
using System.Net;

namespace QuicPipe.Lab;

/// <summary>RFC 1071 checksums computed from scratch, to check what the program left in a frame.</summary>
public static class Checksum
{
    public static ushort Internet(ReadOnlySpan<byte> data, ulong sum = 0)
    {
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (ulong)data[i] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>The UDP checksum over the pseudo-header and <paramref name="udp"/> (its checksum field taken as zero).</summary>
    public static ushort Udp(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp)
    {
        var copy = udp.ToArray();
        copy[6] = copy[7] = 0;
        var result = Internet(copy, PseudoHeaderSum(source, destination, udp.Length));
        return result == 0 ? (ushort)0xFFFF : result; // RFC 768: a computed zero is sent as all ones
    }

    /// <summary>True when the stored UDP checksum verifies: everything, checksum included, sums to all ones.</summary>
    public static bool UdpValid(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp) =>
        BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != 0 && Internet(udp, PseudoHeaderSum(source, destination, udp.Length)) == 0;

    /// <summary>
    /// True when the TCP or UDP checksum of <paramref name="ipPacket"/> (IPv4, or IPv6 with the transport header
    /// right after the fixed header) verifies over its pseudo-header.
    /// </summary>
    public static bool TransportValid(ReadOnlySpan<byte> ipPacket) => Internet(Transport(ipPacket, out var sum), sum) == 0;

    /// <summary>The TCP or UDP checksum <paramref name="ipPacket"/> should carry, taking its checksum field as zero.</summary>
    public static ushort TransportChecksum(ReadOnlySpan<byte> ipPacket)
    {
        var transport = Transport(ipPacket, out var sum).ToArray();
        var isUdp = (ipPacket[0] >> 4 == 4 ? ipPacket[9] : ipPacket[6]) == 17;
        transport[isUdp ? 6 : 16] = transport[isUdp ? 7 : 17] = 0;
        var result = Internet(transport, sum);
        return isUdp && result == 0 ? (ushort)0xFFFF : result;
    }

    // The transport part of the packet, and the sum of its pseudo-header.
    private static ReadOnlySpan<byte> Transport(ReadOnlySpan<byte> ipPacket, out ulong pseudoHeaderSum)
    {
        var isIPv4 = ipPacket[0] >> 4 == 4;
        var headerLength = isIPv4 ? (ipPacket[0] & 0x0F) * 4 : 40;
        var addresses = isIPv4 ? ipPacket[12..20] : ipPacket[8..40];
        var transport = ipPacket[headerLength..];
        pseudoHeaderSum = (ulong)(isIPv4 ? ipPacket[9] : ipPacket[6]) + (ulong)transport.Length;
        for (var i = 0; i < addresses.Length; i += 2)
        {
            pseudoHeaderSum += BinaryPrimitives.ReadUInt16BigEndian(addresses[i..]);
        }

        return transport;
    }

    private static ulong PseudoHeaderSum(IPAddress source, IPAddress destination, int udpLength)
    {
        ulong sum = 0;
        Span<byte> address = stackalloc byte[16];
        foreach (var a in new[] { source, destination })
        {
            a.TryWriteBytes(address, out var n);
            for (var i = 0; i < n; i += 2)
            {
                sum += BinaryPrimitives.ReadUInt16BigEndian(address[i..]);
            }
        }

        return sum + 17 + (ulong)udpLength;
    }
}
