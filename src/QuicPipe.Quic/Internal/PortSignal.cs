namespace QuicPipe.Quic.Internal;

/// <summary>
/// What the receive of a port without a socket of its own waits on: a delivery sets it, and so does the endpoint's
/// wake-up, which it also remembers until the next receive takes it. The receive resets the signal before it looks
/// for datagrams; a wake-up between the endpoint's last look at its own work and that reset would otherwise be lost,
/// and the loop would sleep until its timer with work queued.
/// </summary>
internal sealed class PortSignal : IDisposable
{
    private readonly ManualResetEventSlim _event = new(false);
    private int _woken;

    /// <summary>A datagram was queued (or the port is shutting down).</summary>
    public void Set() => _event.Set();

    /// <summary>The endpoint has work for its loop.</summary>
    public void Wake()
    {
        Volatile.Write(ref _woken, 1);
        _event.Set();
    }

    /// <summary>Before looking for datagrams: resets the signal; true if a wake-up came since the last receive (do not wait).</summary>
    public bool ResetUnlessWoken()
    {
        _event.Reset();
        return Interlocked.Exchange(ref _woken, 0) != 0;
    }

    /// <summary>Waits for a delivery or a wake-up, at most <paramref name="wait"/>.</summary>
    public void Wait(TimeSpan wait) => _event.Wait(wait);

    public void Dispose() => _event.Dispose();
}
