using System.Buffers.Binary;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>TCP and UDP packets with correct checksums (computed by the test's own RFC 1071), and offload frames.</summary>
internal static class OffloadPackets
{
    public const byte Ack = 0x10;
    public const byte Psh = 0x08;
    public const byte Fin = 0x01;
    public const byte Cwr = 0x80;

    /// <summary>A TCP segment from 10.0.0.1:40000 to 10.0.0.2:5201 (IPv4) or fd00::1 to fd00::2 (IPv6), with a timestamp option.</summary>
    public static byte[] Tcp(bool ipv6, uint sequence, ReadOnlySpan<byte> payload, byte flags = Ack, ushort identification = 7, uint ack = 1000, ushort sourcePort = 40000, byte tos = 0)
    {
        var ipHeader = ipv6 ? 40 : 20;
        const int TcpHeader = 32;
        var packet = new byte[ipHeader + TcpHeader + payload.Length];
        WriteIp(packet, ipv6, protocol: 6, identification, tos);
        var tcp = packet.AsSpan(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = TcpHeader / 4 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 501);

        // NOP, NOP, timestamps (kind 8, length 10).
        tcp[20] = tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(tcp[24..], 123456);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[28..], 654321);
        payload.CopyTo(tcp[TcpHeader..]);
        FinishChecksums(packet);
        return packet;
    }

    /// <summary>A UDP datagram from 10.0.0.1:40000 to 10.0.0.2:4433 (or the IPv6 pair).</summary>
    public static byte[] UdpDatagram(bool ipv6, ReadOnlySpan<byte> payload, ushort identification = 7)
    {
        var ipHeader = ipv6 ? 40 : 20;
        var packet = new byte[ipHeader + 8 + payload.Length];
        WriteIp(packet, ipv6, protocol: 17, identification, tos: 0);
        var udp = packet.AsSpan(ipHeader);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 4433);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        payload.CopyTo(udp[8..]);
        FinishChecksums(packet);
        return packet;
    }

    /// <summary>Recomputes the IPv4 header checksum and the transport checksum.</summary>
    public static void FinishChecksums(Span<byte> packet)
    {
        var ipv6 = packet[0] >> 4 == 6;
        var isUdp = (ipv6 ? packet[6] : packet[9]) == 17;
        var ipHeader = ipv6 ? 40 : 20;
        if (!ipv6)
        {
            packet[10] = packet[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(packet[10..], Checksum.Internet(packet[..20]));
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet[(ipHeader + (isUdp ? 6 : 16))..], Checksum.TransportChecksum(packet));
    }

    /// <summary>
    /// What the kernel hands over for a super-packet: the header, then the packet with its lengths covering all the
    /// payload and the transport checksum left as the pseudo-header's (which the cutter must not trust).
    /// </summary>
    public static byte[] Frame(VirtioNetHeader header, ReadOnlySpan<byte> packet)
    {
        var frame = new byte[VirtioNetHeader.Size + packet.Length];
        MemoryMarshal.Write(frame, in header);
        packet.CopyTo(frame.AsSpan(VirtioNetHeader.Size));
        return frame;
    }

    public static VirtioNetHeader Header(byte gsoType, int gsoSize, int checksumStart, int checksumOffset) => new()
    {
        Flags = VirtioNetHeader.NeedsChecksum,
        GsoType = gsoType,
        GsoSize = (ushort)gsoSize,
        ChecksumStart = (ushort)checksumStart,
        ChecksumOffset = (ushort)checksumOffset,
    };

    public static byte[] Payload(int length, int seed = 1)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    public static int IpHeaderLength(ReadOnlySpan<byte> packet) => packet[0] >> 4 == 6 ? 40 : (packet[0] & 0x0F) * 4;

    public static uint Sequence(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[(IpHeaderLength(packet) + 4)..]);

    public static byte Flags(ReadOnlySpan<byte> packet) => packet[IpHeaderLength(packet) + 13];

    public static ReadOnlySpan<byte> TcpPayload(ReadOnlySpan<byte> packet) =>
        packet[(IpHeaderLength(packet) + (packet[IpHeaderLength(packet) + 12] >> 4) * 4)..];

    private static void WriteIp(Span<byte> packet, bool ipv6, byte protocol, ushort identification, byte tos)
    {
        if (ipv6)
        {
            packet[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(packet.Length - 40));
            packet[6] = protocol;
            packet[7] = 64;
            packet[8] = packet[24] = 0xFD;
            packet[23] = 1;
            packet[39] = 2;
        }
        else
        {
            packet[0] = 0x45;
            packet[1] = tos;
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)packet.Length);
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], identification);
            packet[6] = 0x40; // DF
            packet[8] = 64;
            packet[9] = protocol;
            packet[12] = packet[16] = 10;
            packet[15] = 1;
            packet[19] = 2;
        }
    }
}
