namespace QuicPipe.Relay.Control;

/// <summary>
/// The registry's upkeep: window moves from the forwarding stage's use reports every
/// <see cref="RelayControlOptions.RouteUseInterval"/>, and a sweep of expired registrations every
/// <see cref="RelayControlOptions.SweepInterval"/>. One loop per service: the first running RunAsync starts it and
/// the last one to return stops it, so a relay serving control on several listeners (IPv4 and IPv6) does not
/// sweep twice.
/// </summary>
public sealed partial class RelayControlService
{
    private readonly Lock _maintenanceLock = new();

    // Guarded by _maintenanceLock: the RunAsync calls running, and the loop they share with what stops it.
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

    private void JoinMaintenance()
    {
        lock (_maintenanceLock)
        {
            if (_runners++ == 0)
            {
                // A loop stopped by the RunAsync that left last may still be finishing its pass; it does not start another.
                _maintenanceStop = new CancellationTokenSource();
                _maintenance = RunMaintenanceAsync(_maintenanceStop.Token);
            }
        }
    }

    private async Task LeaveMaintenanceAsync()
    {
        Task maintenance;
        CancellationTokenSource stop;
        lock (_maintenanceLock)
        {
            if (--_runners > 0)
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
