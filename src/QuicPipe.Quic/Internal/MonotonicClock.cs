using System.Diagnostics;

namespace QuicPipe.Quic.Internal;

/// <summary>ngtcp2 timestamps: nanoseconds of a monotonic clock (Stopwatch is CLOCK_MONOTONIC on Linux).</summary>
internal static class MonotonicClock
{
    public static ulong NowNanoseconds()
    {
        var ticks = (ulong)Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000
            ? ticks
            : (ulong)((UInt128)ticks * 1_000_000_000 / (ulong)Stopwatch.Frequency);
    }
}
