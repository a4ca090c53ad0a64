namespace QuicPipe.Vpn.Internal;

/// <summary>Field offsets and constants of the IPv6 header (RFC 8200) and of ICMPv6 (RFC 4443).</summary>
internal static class IPv6Header
{
    public const int Length = 40;
    public const int PayloadLengthOffset = 4;
    public const int NextHeaderOffset = 6;
    public const int HopLimitOffset = 7;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;

    public const byte HopByHop = 0;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte DestinationOptions = 60;
    public const int FragmentHeaderLength = 8;

    /// <summary>The fragment offset (in 8-byte units, shifted left 3) in the fragment header's 16-bit field at +2.</summary>
    public const ushort FragmentOffsetMask = 0xFFF8;

    /// <summary>More headers than any real packet carries: a longer chain is refused, not walked.</summary>
    public const int MaxExtensionHeaders = 8;

    public const byte ProtocolIcmpV6 = 58;

    /// <summary>Type, code, checksum and the 4-byte rest of header of an ICMPv6 message.</summary>
    public const int IcmpHeaderLength = 8;

    public const byte IcmpDestinationUnreachable = 1;
    public const byte IcmpPacketTooBig = 2;
    public const byte IcmpCodeNoRoute = 0;
    public const byte IcmpCodeAddressUnreachable = 3;

    /// <summary>ICMPv6 error messages have types 0-127, informational ones 128-255 (RFC 4443 §2.1).</summary>
    public static bool IsIcmpErrorType(byte type) => type < 128;
}
