using System.Buffers.Binary;
using System.Net;
using QuicPipe.Lab;

namespace QuicPipe.Xdp.Tests;

/// <summary>Reads back the fields of a frame PacketBuilder made (possibly rewritten by the program).</summary>
internal readonly ref struct ParsedFrame
{
    public ParsedFrame(ReadOnlySpan<byte> frame)
    {
        Frame = frame;
        var l2 = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100 ? 18 : 14;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(l2 - 2)..]);
        IsIPv6 = etherType == 0x86DD;
        var l3 = IsIPv6 ? 40 : (frame[l2] & 0x0F) * 4;
        IpHeader = frame.Slice(l2, l3);
        Udp = frame[(l2 + l3)..];
    }

    public ReadOnlySpan<byte> Frame { get; }

    public bool IsIPv6 { get; }

    public ReadOnlySpan<byte> IpHeader { get; }

    public ReadOnlySpan<byte> Udp { get; }

    public ReadOnlySpan<byte> DestinationMac => Frame[..6];

    public ReadOnlySpan<byte> SourceMac => Frame[6..12];

    public IPAddress Source => IsIPv6 ? new IPAddress(IpHeader.Slice(8, 16)) : new IPAddress(IpHeader.Slice(12, 4));

    public IPAddress Destination => IsIPv6 ? new IPAddress(IpHeader.Slice(24, 16)) : new IPAddress(IpHeader.Slice(16, 4));

    public int Ttl => IsIPv6 ? IpHeader[7] : IpHeader[8];

    public int SourcePort => BinaryPrimitives.ReadUInt16BigEndian(Udp);

    public int DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(Udp[2..]);

    public ushort UdpChecksum => BinaryPrimitives.ReadUInt16BigEndian(Udp[6..]);

    public ReadOnlySpan<byte> Payload => Udp[8..];

    public bool IPv4HeaderChecksumValid => Checksum.Internet(IpHeader) == 0;

    public bool UdpChecksumValid => Checksum.UdpValid(Source, Destination, Udp);
}
