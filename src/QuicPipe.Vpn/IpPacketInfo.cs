using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// What <see cref="IpPacket.TryParse"/> learned about one IP packet: offsets and flags, no copy of the packet, so it
/// can sit in a batch's arrays beside the buffer it describes.
/// </summary>
public readonly struct IpPacketInfo
{
    [Flags]
    private enum Flags : byte
    {
        None = 0,
        IcmpError = 1,
        NonInitialFragment = 2,
        DontFragment = 4,
    }

    private readonly int _headerLength;
    private readonly int _totalLength;
    private readonly byte _version;
    private readonly byte _protocol;
    private readonly Flags _flags;

    internal IpPacketInfo(int version, int headerLength, int totalLength, byte protocol, bool icmpError, bool nonInitialFragment, bool dontFragment)
    {
        _version = (byte)version;
        _headerLength = headerLength;
        _totalLength = totalLength;
        _protocol = protocol;
        _flags = (icmpError ? Flags.IcmpError : Flags.None)
            | (nonInitialFragment ? Flags.NonInitialFragment : Flags.None)
            | (dontFragment ? Flags.DontFragment : Flags.None);
    }

    /// <summary>4 or 6.</summary>
    public int Version => _version;

    /// <summary>
    /// Where the upper-layer header starts: the IPv4 header with its options, or the IPv6 header with the
    /// extension headers before <see cref="Protocol"/>.
    /// </summary>
    public int HeaderLength => _headerLength;

    /// <summary>The packet's length by its own header; bytes of the buffer past it are not part of the packet.</summary>
    public int TotalLength => _totalLength;

    /// <summary>The upper-layer protocol (IPv4 protocol, or the IPv6 next header after the extension headers): 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6.</summary>
    public byte Protocol => _protocol;

    /// <summary>4 or 16: the length of <see cref="Source"/> and <see cref="Destination"/>.</summary>
    public int AddressLength => _version == 4 ? AddressBits.IPv4Length : AddressBits.IPv6Length;

    /// <summary>
    /// An ICMP or ICMPv6 error message (destination unreachable, packet too big, time exceeded, ...), or an ICMP
    /// message too short to show its type. Never answered with another error (RFC 1122 §3.2.2, RFC 4443 §2.4(e)).
    /// </summary>
    public bool IsIcmpError => (_flags & Flags.IcmpError) != 0;

    /// <summary>A fragment other than the first: its upper-layer header is in another packet.</summary>
    public bool IsNonInitialFragment => (_flags & Flags.NonInitialFragment) != 0;

    /// <summary>IPv4's Don't Fragment bit; always true for IPv6, which no router fragments.</summary>
    public bool DontFragment => (_flags & Flags.DontFragment) != 0;

    private int SourceOffset => _version == 4 ? IPv4Header.SourceOffset : IPv6Header.SourceOffset;

    private int DestinationOffset => _version == 4 ? IPv4Header.DestinationOffset : IPv6Header.DestinationOffset;

    /// <summary>The source address inside <paramref name="packet"/> (the packet this info was parsed from).</summary>
    public ReadOnlySpan<byte> Source(ReadOnlySpan<byte> packet) => packet.Slice(SourceOffset, AddressLength);

    /// <summary>The destination address inside <paramref name="packet"/> (the packet this info was parsed from).</summary>
    public ReadOnlySpan<byte> Destination(ReadOnlySpan<byte> packet) => packet.Slice(DestinationOffset, AddressLength);
}
