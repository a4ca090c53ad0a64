namespace QuicPipe.Mesh.Internal;

/// <summary>A rate per second with a burst of twice as many (one neighbour's probes). Callers hold the node's lock.</summary>
internal sealed class TokenBucket(int perSecond)
{
    private double _tokens = 2.0 * perSecond;
    private long _lastTicks = Environment.TickCount64;

    public bool TryTake()
    {
        var now = Environment.TickCount64;
        _tokens = Math.Min(2.0 * perSecond, _tokens + ((now - _lastTicks) * perSecond / 1000.0));
        _lastTicks = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
