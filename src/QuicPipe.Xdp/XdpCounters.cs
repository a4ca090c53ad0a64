namespace QuicPipe.Xdp;

/// <summary>The program's counters summed over CPUs (one per <c>enum qp_stat</c>).</summary>
public readonly record struct XdpCounters(
    ulong Received,
    ulong Transmitted,
    ulong PassedLongHeader,
    ulong PassedRelayCid,
    ulong Missed,
    ulong MissBufferFull,
    ulong Malformed,
    ulong NonQuic,
    ulong PassedFamilyChange,
    ulong PassedUnsupported,
    ulong PassedReflection)
{
    /// <summary>Number of counters, <c>QP_STAT_MAX</c>.</summary>
    internal const int Count = 11;

    /// <summary>
    /// QUIC packets for the relay's ports that the program handed to userspace instead of bouncing:
    /// long headers, relay CIDs, misses, family changes, unsupported headers and reflections.
    /// </summary>
    public ulong PassedToUserspace =>
        PassedLongHeader + PassedRelayCid + Missed + PassedFamilyChange + PassedUnsupported + PassedReflection;

    internal static XdpCounters From(ReadOnlySpan<ulong> c) =>
        new(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
}
