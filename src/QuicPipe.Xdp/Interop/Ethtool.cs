using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary>The SIOCETHTOOL requests the offload reads an interface's driver and statistics with (linux/ethtool.h).</summary>
internal static class Ethtool
{
    public const nuint SiocEthtool = 0x8946;
    public const uint GetDriverInfo = 0x03;  // ETHTOOL_GDRVINFO
    public const uint GetStrings = 0x1b;     // ETHTOOL_GSTRINGS
    public const uint GetStatistics = 0x1d;  // ETHTOOL_GSTATS
    public const uint StatisticsSet = 1;     // ETH_SS_STATS
    public const int StringLength = 32;      // ETH_GSTRING_LEN
}

/// <summary><c>struct ifreq</c> as SIOCETHTOOL reads it: the name, then <c>ifr_data</c> pointing at the request. 40 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct EthtoolIfReq
{
    public const int NameSize = 16; // IFNAMSIZ, NUL included

    [FieldOffset(0)]
    public fixed byte Name[NameSize];

    [FieldOffset(16)]
    public void* Data;
}

/// <summary><c>struct ethtool_drvinfo</c> (196 bytes): the driver's name and how many statistics it has.</summary>
[StructLayout(LayoutKind.Explicit, Size = 196)]
internal unsafe struct EthtoolDriverInfo
{
    [FieldOffset(0)]
    public uint Command;

    [FieldOffset(4)]
    public fixed byte Driver[32];

    /// <summary><c>n_stats</c>: the number of ETH_SS_STATS strings and values.</summary>
    [FieldOffset(180)]
    public uint StatisticsCount;
}

/// <summary>The fixed head of <c>struct ethtool_gstrings</c> and of <c>struct ethtool_stats</c>; the strings or values follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EthtoolStringsHead
{
    public uint Command;
    public uint StringSet;
    public uint Length;
}

/// <inheritdoc cref="EthtoolStringsHead"/>
[StructLayout(LayoutKind.Sequential)]
internal struct EthtoolStatisticsHead
{
    public uint Command;
    public uint Count;
}
