using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    private const int ClockMonotonic = 1;
    private const int PrSetTimerSlack = 29;

    // int clock_nanosleep(clockid_t clockid, int flags, const struct timespec *request, struct timespec *remain);
    // Returns the error number itself (not -1 and errno). A high-resolution timer, like ppoll's timeout.
    [LibraryImport(Name, EntryPoint = "clock_nanosleep")]
    private static unsafe partial int ClockNanoSleep(int clock, int flags, TimeSpec* request, TimeSpec* remain);

    // int prctl(int option, unsigned long arg2, ...);
    [LibraryImport(Name, EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint argument2);

    /// <summary>Sleeps on the monotonic clock; a signal may end the sleep early, which callers treat as done.</summary>
    internal static unsafe void SleepMonotonic(TimeSpec duration) => _ = ClockNanoSleep(ClockMonotonic, 0, &duration, null);

    /// <summary>
    /// Sets how late the kernel may fire this thread's timers (PR_SET_TIMERSLACK), so it can batch wake-ups. The
    /// default, 50 us, would more than double a 30 us sleep. Returns false if the kernel refused.
    /// </summary>
    internal static bool SetThreadTimerSlack(TimeSpan slack) => Prctl(PrSetTimerSlack, (nuint)Math.Max(1, slack.Ticks * 100)) == 0;
}
