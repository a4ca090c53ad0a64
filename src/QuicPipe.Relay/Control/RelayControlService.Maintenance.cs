namespace QuicPipe.Relay.Control;

/// <summary>
/// The registry's upkeep: window moves from the forwarding stage's use reports every
/// <see cref="RelayControlOptions.RouteUseInterval"/>, and a sweep of expired registrations every
/// <see cref="RelayControlOptions.SweepInterval"/>. One loop per service: the first
/// <see cref="StartMaintenance"/> starts it and the matching last <see cref="StopMaintenanceAsync"/> stops it, so a
/// service run on several endpoints (IPv4 and IPv6, each a RunAsync) does not sweep twice.
/// </summary>
public sealed partial class RelayControlService
{
    private readonly Lock _maintenanceLock = new();

    // Guarded by _maintenanceLock: the starts not yet stopped, and the loop they share with what stops it.
    private int _runners;
    private Task _maintenance = Task.CompletedTask;
    private CancellationTokenSource? _maintenanceStop;

    // Interlocked: maintenance passes run, loops running now, and the most ever running at once (tests).
    private long _maintenancePasses;
    private int _maintenanceLoops;
    private int _maxMaintenanceLoops;

    /// <summary>Maintenance passes run since the service was made (each: window moves, and a sweep when due).</summary>
    internal long MaintenancePasses => Interlocked.Read(ref _maintenancePasses);

    /// <summary>The most maintenance loops that ever ran at once: 1 once the service has run.</summary>
    internal int MaxConcurrentMaintenanceLoops => Volatile.Read(ref _maxMaintenanceLoops);

    /// <summary>Starts the maintenance loop unless it runs already; each call needs its <see cref="StopMaintenanceAsync"/>.</summary>
    internal void StartMaintenance()
    {
        lock (_maintenanceLock)
        {
            if (_runners++ == 0)
            {
                // A loop stopped by the last stop may still be finishing its pass; it does not start another.
                _maintenanceStop = new CancellationTokenSource();
                _maintenance = RunMaintenanceAsync(_maintenanceStop.Token);
            }
        }
    }

    /// <summary>Stops the maintenance loop when this is the last start's stop, and waits for its pass to end.</summary>
    internal async Task StopMaintenanceAsync()
    {
        Task maintenance;
        CancellationTokenSource stop;
        lock (_maintenanceLock)
        {
            // Nothing to stop without a start (a relay whose start failed before its maintenance began).
            if (_runners == 0 || --_runners > 0)
            {
                return;
            }

            maintenance = _maintenance;
            stop = _maintenanceStop!;
            _maintenanceStop = null;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await maintenance.ConfigureAwait(false);
        stop.Dispose();
    }

    private async Task RunMaintenanceAsync(CancellationToken cancellationToken)
    {
        var running = Interlocked.Increment(ref _maintenanceLoops);
        InterlockedMax(ref _maxMaintenanceLoops, running);
        try
        {
            using var timer = new PeriodicTimer(_options.RouteUseInterval);
            var nextSweep = _registry.NowMs;
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                _registry.ProcessRouteUses();
                var now = _registry.NowMs;
                if (now >= nextSweep)
                {
                    _registry.Sweep(now);
                    nextSweep = now + (long)_options.SweepInterval.TotalMilliseconds;
                }

                Interlocked.Increment(ref _maintenancePasses);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            Interlocked.Decrement(ref _maintenanceLoops);
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
