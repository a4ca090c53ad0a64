namespace QuicPipe.Lab;

/// <summary>A clock tests move by hand. Nanosecond ticks, like Stopwatch on Linux.</summary>
public sealed class ManualTimeProvider(long startTimestamp = 0) : TimeProvider
{
    public const long TicksPerMs = 1_000_000;

    private long _timestamp = startTimestamp;

    public override long TimestampFrequency => 1_000_000_000;

    public override long GetTimestamp() => Volatile.Read(ref _timestamp);

    public void AdvanceMs(long ms) => Interlocked.Add(ref _timestamp, ms * TicksPerMs);
}
