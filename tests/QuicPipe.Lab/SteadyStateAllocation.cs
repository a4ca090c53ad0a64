using System.Diagnostics;

namespace QuicPipe.Lab;

/// <summary>
/// Bytes the current thread allocates in a warm steady state. The runtime allocates on the calling thread now and
/// then while it tiers code up (a 100 ms delay, 30 calls, then a background compile): measured inside such a
/// moment, one round showed 680 B in a parallel run of the suite, and UdpAllocationTests once failed so in CI. So
/// the code runs for half a second first, and the answer is the least of three measured rounds: an allocation the
/// code itself makes shows in every round.
/// </summary>
public static class SteadyStateAllocation
{
    private static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(500);

    /// <remarks>No Assert inside <paramref name="round"/>: xunit's asserts allocate.</remarks>
    public static long Measure(Action round, int rounds = 3)
    {
        var clock = Stopwatch.StartNew();
        do
        {
            round();
        }
        while (clock.Elapsed < WarmUp);

        var least = long.MaxValue;
        for (var i = 0; i < rounds; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            round();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
