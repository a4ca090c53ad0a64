namespace QuicPipe.Relay.Control;

/// <summary>
/// A <see cref="CidRegistry"/>'s upkeep: window moves from the forwarding stage's use reports every
/// <see cref="RelayControlOptions.RouteUseInterval"/>, and a sweep of expired registrations every
/// <see cref="RelayControlOptions.SweepInterval"/>. One loop for all its runners: the first <see cref="Start"/>
/// starts it and the matching last <see cref="StopAsync"/> stops it, so a control service run on several endpoints
/// (IPv4 and IPv6, each a RunAsync) does not sweep twice.
/// </summary>
internal sealed class RegistryMaintenance(CidRegistry registry, RelayControlOptions options)
{
    private readonly Lock _lock = new();

    // Guarded by _lock: the starts not yet stopped, and the loop they share with what stops it.
    private int _runners;
    private Task _loop = Task.CompletedTask;
    private CancellationTokenSource? _stop;

    // Interlocked: passes run, loops running now, and the most ever running at once (tests).
    private long _passes;
    private int _loops;
    private int _maxLoops;

    /// <summary>Passes run since it was made (each: window moves, and a sweep when due).</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>The most loops that ever ran at once: 1 once it has run.</summary>
    public int MaxConcurrentLoops => Volatile.Read(ref _maxLoops);

    /// <summary>Starts the loop unless it runs already; each call needs its <see cref="StopAsync"/>.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_runners++ == 0)
            {
                // A loop stopped by the last stop may still be finishing its pass; it does not start another.
                _stop = new CancellationTokenSource();
                _loop = RunAsync(_stop.Token);
            }
        }
    }

    /// <summary>Stops the loop when this is the last start's stop, and waits for its pass to end.</summary>
    public async Task StopAsync()
    {
        Task loop;
        CancellationTokenSource stop;
        lock (_lock)
        {
            // Nothing to stop without a start (a relay whose start failed before its maintenance began).
            if (_runners == 0 || --_runners > 0)
            {
                return;
            }

            loop = _loop;
            stop = _stop!;
            _stop = null;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        stop.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var running = Interlocked.Increment(ref _loops);
        InterlockedMax(ref _maxLoops, running);
        try
        {
            using var timer = new PeriodicTimer(options.RouteUseInterval);
            var nextSweep = registry.NowMs;
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                registry.ProcessRouteUses();
                var now = registry.NowMs;
                if (now >= nextSweep)
                {
                    registry.Sweep(now);
                    nextSweep = now + (long)options.SweepInterval.TotalMilliseconds;
                }

                Interlocked.Increment(ref _passes);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            Interlocked.Decrement(ref _loops);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
