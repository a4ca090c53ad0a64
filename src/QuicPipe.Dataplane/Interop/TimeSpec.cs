using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary><c>struct timespec { time_t tv_sec; long tv_nsec; }</c> on 64-bit Linux (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;

    public static TimeSpec From(TimeSpan span)
    {
        var ticks = Math.Max(0, span.Ticks);
        return new TimeSpec { Seconds = ticks / TimeSpan.TicksPerSecond, Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100 };
    }
}
