namespace QuicPipe.Vpn.Internal;

/// <summary>Field offsets and constants of the IPv4 header (RFC 791) and of ICMP (RFC 792).</summary>
internal static class IPv4Header
{
    public const int MinLength = 20;
    public const int TotalLengthOffset = 2;
    public const int FlagsOffset = 6;
    public const int TtlOffset = 8;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;

    /// <summary>Don't Fragment, in the 16-bit flags + fragment offset field.</summary>
    public const ushort DontFragment = 0x4000;

    /// <summary>The fragment offset (in 8-byte units), in the 16-bit flags + fragment offset field.</summary>
    public const ushort FragmentOffsetMask = 0x1FFF;

    public const byte ProtocolIcmp = 1;

    /// <summary>Type, code, checksum and the 4-byte rest of header of an ICMP message.</summary>
    public const int IcmpHeaderLength = 8;

    public const byte IcmpDestinationUnreachable = 3;
    public const byte IcmpCodeNetUnreachable = 0;
    public const byte IcmpCodeHostUnreachable = 1;
    public const byte IcmpCodeFragmentationNeeded = 4;

    /// <summary>
    /// ICMP error types (RFC 1122 §3.2.2): destination unreachable, source quench, redirect, time exceeded,
    /// parameter problem. Everything else (echo, timestamp, ...) is a query.
    /// </summary>
    public static bool IsIcmpErrorType(byte type) => type is 3 or 4 or 5 or 11 or 12;
}
