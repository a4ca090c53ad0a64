using System.Buffers.Binary;
using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Lab;

namespace QuicPipe.Xdp.Tests;

/// <summary>Crafts Ethernet frames carrying UDP over IPv4 or IPv6, with valid checksums unless told otherwise.</summary>
internal sealed class PacketBuilder
{
    public static readonly byte[] ClientMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
    public static readonly byte[] RelayMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

    public IPAddress Source { get; init; } = IPAddress.Parse("198.51.100.7");

    public IPAddress Destination { get; init; } = IPAddress.Parse("203.0.113.1");

    public int SourcePort { get; init; } = 50000;

    public int DestinationPort { get; init; } = 4433;

    public ushort? VlanId { get; init; }

    public byte[] IPv4Options { get; init; } = [];

    public bool UdpChecksum { get; init; } = true;

    public byte Ttl { get; init; } = 57;

    public ushort FragmentField { get; init; }

    public byte? IPv6NextHeader { get; init; }

    public byte[] Build(ReadOnlySpan<byte> payload)
    {
        var v6 = Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        var l2 = 14 + (VlanId is null ? 0 : 4);
        var l3 = v6 ? 40 : 20 + IPv4Options.Length;
        var frame = new byte[l2 + l3 + 8 + payload.Length];
        var span = frame.AsSpan();

        RelayMac.CopyTo(span);
        ClientMac.CopyTo(span[6..]);
        var etherType = (ushort)(v6 ? 0x86DD : 0x0800);
        if (VlanId is { } vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[12..], 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(span[14..], vlan);
            BinaryPrimitives.WriteUInt16BigEndian(span[16..], etherType);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[12..], etherType);
        }

        var ip = span.Slice(l2, l3);
        var udp = span[(l2 + l3)..];
        var udpLength = 8 + payload.Length;
        if (v6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udpLength);
            ip[6] = IPv6NextHeader ?? 17;
            ip[7] = Ttl;
            Source.TryWriteBytes(ip[8..], out _);
            Destination.TryWriteBytes(ip[24..], out _);
        }
        else
        {
            if (IPv4Options.Length % 4 != 0 || IPv4Options.Length > 40)
            {
                throw new InvalidOperationException("IPv4 options come in 4-byte words, at most 40 bytes");
            }

            ip[0] = (byte)(0x40 | (l3 / 4));
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(l3 + udpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], FragmentField);
            ip[8] = Ttl;
            ip[9] = 17;
            Source.TryWriteBytes(ip[12..], out _);
            Destination.TryWriteBytes(ip[16..], out _);
            IPv4Options.CopyTo(ip[20..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Internet(ip));
        }

        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);
        if (UdpChecksum || v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], Checksum.Udp(Source, Destination, udp));
        }

        return frame;
    }

    /// <summary>A short-header packet: first byte 0x4? then the DCID, then opaque bytes.</summary>
    public static byte[] QuicShort(ConnectionId dcid, int bodyLength = 40)
    {
        var packet = new byte[1 + dcid.Length + bodyLength];
        packet[0] = 0x41;
        dcid.Span.CopyTo(packet.AsSpan(1));
        for (var i = 1 + dcid.Length; i < packet.Length; i++)
        {
            packet[i] = (byte)(i * 7);
        }

        return packet;
    }

    /// <summary>A QUIC v1 Initial-looking long header carrying <paramref name="dcid"/>.</summary>
    public static byte[] QuicLong(ConnectionId dcid)
    {
        var packet = new byte[1 + 4 + 1 + dcid.Length + 1 + 8 + 30];
        packet[0] = 0xC0;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1), 1);
        packet[5] = (byte)dcid.Length;
        dcid.Span.CopyTo(packet.AsSpan(6));
        packet[6 + dcid.Length] = 8;
        return packet;
    }
}
