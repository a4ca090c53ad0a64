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
    ulong PassedReflection,
    ulong PassedBusy)
{
    /// <summary>Number of counters, <c>QP_STAT_MAX</c>.</summary>
    internal const int Count = 12;

    /// <summary>
    /// QUIC packets for the relay's ports that the program handed to userspace instead of bouncing:
    /// long headers, relay CIDs, misses, family changes, unsupported headers, reflections, and packets whose
    /// route slot userspace was writing at that instant (<see cref="PassedBusy"/>).
    /// </summary>
    public ulong PassedToUserspace =>
        PassedLongHeader + PassedRelayCid + Missed + PassedFamilyChange + PassedUnsupported + PassedReflection + PassedBusy;

    internal static XdpCounters From(ReadOnlySpan<ulong> c) =>
        new(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]);
}
