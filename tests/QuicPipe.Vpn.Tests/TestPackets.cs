using System.Buffers.Binary;
using System.Net;
using QuicPipe.Lab;

namespace QuicPipe.Vpn.Tests;

/// <summary>A tiny packet builder: whole IPv4 and IPv6 packets with a recognisable payload, as a TUN device would read them.</summary>
internal static class TestPackets
{
    public const byte Udp = 17;
    public const byte Icmp = 1;
    public const byte IcmpV6 = 58;

    public static byte[] Address(string text) => IPAddress.Parse(text).GetAddressBytes();

    /// <summary>Bytes 0, 7, 14, ... (mod 256): any shift or truncation of a quote shows.</summary>
    public static byte[] Payload(int length)
    {
        var payload = new byte[length];
        for (var i = 0; i < length; i++)
        {
            payload[i] = (byte)((i * 7) + 3);
        }

        return payload;
    }

    /// <summary>An ICMP or ICMPv6 message of the given type with a body of <paramref name="bodyLength"/> bytes (checksum left 0).</summary>
    public static byte[] IcmpMessage(byte type, byte code = 0, int bodyLength = 12)
    {
        var message = Payload(8 + bodyLength);
        message[0] = type;
        message[1] = code;
        message[2] = 0;
        message[3] = 0;
        return message;
    }

    /// <summary>An IPv4 packet; <paramref name="fragment"/> is the 16-bit flags + fragment offset field: 0x4000 DF, 0x2000 MF, low 13 bits offset.</summary>
    public static byte[] IPv4(string source, string destination, byte protocol, byte[] payload, ushort fragment = 0x4000, int optionWords = 0, int trailing = 0)
    {
        var headerLength = 20 + (optionWords * 4);
        var totalLength = headerLength + payload.Length;
        var packet = new byte[totalLength + trailing];
        packet[0] = (byte)(0x40 | (headerLength / 4));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), fragment);
        packet[8] = 17;
        packet[9] = protocol;
        Address(source).CopyTo(packet, 12);
        Address(destination).CopyTo(packet, 16);
        packet.AsSpan(20, optionWords * 4).Fill(1); // NOP options
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum.Internet(packet.AsSpan(0, headerLength)));
        payload.CopyTo(packet, headerLength);
        packet.AsSpan(totalLength).Fill(0xEE);
        return packet;
    }

    public static byte[] Udp4(string source, string destination, int payloadLength = 32) =>
        IPv4(source, destination, Udp, Payload(8 + payloadLength));

    /// <summary>An IPv6 packet; <paramref name="payload"/> is everything after the fixed header: extension headers, then the upper layer.</summary>
    public static byte[] IPv6(string source, string destination, byte nextHeader, byte[] payload, int trailing = 0)
    {
        var packet = new byte[40 + payload.Length + trailing];
        BinaryPrimitives.WriteUInt32BigEndian(packet, 0x6_00_12345);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)payload.Length);
        packet[6] = nextHeader;
        packet[7] = 9;
        Address(source).CopyTo(packet, 8);
        Address(destination).CopyTo(packet, 24);
        payload.CopyTo(packet, 40);
        packet.AsSpan(40 + payload.Length).Fill(0xEE);
        return packet;
    }

    public static byte[] Udp6(string source, string destination, int payloadLength = 32) =>
        IPv6(source, destination, Udp, Payload(8 + payloadLength));

    /// <summary>A hop-by-hop, routing or destination options header of <paramref name="units"/> x 8 bytes.</summary>
    public static byte[] ExtensionHeader(byte next, int units = 1)
    {
        var header = new byte[units * 8];
        header[0] = next;
        header[1] = (byte)(units - 1);
        return header;
    }

    /// <summary>A fragment header; <paramref name="offset"/> is in 8-byte units.</summary>
    public static byte[] FragmentHeader(byte next, int offset, bool more)
    {
        var header = new byte[8];
        header[0] = next;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)((offset << 3) | (more ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), 0xABCD);
        return header;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
