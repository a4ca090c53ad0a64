using System.Diagnostics;

namespace QuicPipe.Relay.Control;

/// <summary>A token bucket: <c>rate</c> tokens a second up to <c>burst</c>. One caller at a time (a session's read loop).</summary>
internal sealed class TokenBucket(double ratePerSecond, int burst)
{
    private double _tokens = burst;
    private long _lastTimestamp = Stopwatch.GetTimestamp();

    public bool TryTake()
    {
        var now = Stopwatch.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + (Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds * ratePerSecond));
        _lastTimestamp = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
