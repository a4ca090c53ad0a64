using QuicPipe.Dataplane.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Turns a dead loop into a process exit. A loop that dies (<see cref="LoopLiveness"/>) leaves the command running but
/// useless; <c>/healthz</c> says so, but only to whoever polls it. Every second this checks the command's
/// <see cref="LivenessChecks"/>, and at the first dead loop writes one line
/// (<c>quicpipe CMD: LOOP died: REASON; exiting</c>) and stops the command through its stop token, which then exits 1,
/// so a service manager's <c>Restart=on-failure</c> brings it back. Until the command has shut down, <c>/healthz</c>
/// keeps answering 503: the metrics endpoint is the last thing a command disposes.
/// </summary>
internal sealed class LoopWatcher : IAsyncDisposable
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    // A dead loop may have left the process in a state where an orderly shutdown hangs (it died of running out of
    // memory); past this the process exits 1 anyway rather than stay up useless.
    private static readonly TimeSpan DefaultExitDeadline = TimeSpan.FromSeconds(10);

    private readonly string _command;
    private readonly LivenessChecks _liveness;
    private readonly CancellationTokenSource _stop;
    private readonly TextWriter _output;
    private readonly Action<int> _exit;
    private readonly TimeSpan _exitDeadline;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Task _watching;
    private volatile bool _loopDied;

    /// <summary>
    /// Watches <paramref name="liveness"/> for <paramref name="command"/>; a dead loop cancels <paramref name="stop"/>.
    /// <paramref name="output"/> (stderr), <paramref name="exit"/> (<see cref="Environment.Exit"/>), the interval and the
    /// exit deadline are for tests.
    /// </summary>
    public LoopWatcher(
        string command,
        LivenessChecks liveness,
        CancellationTokenSource stop,
        TextWriter? output = null,
        TimeSpan? interval = null,
        Action<int>? exit = null,
        TimeSpan? exitDeadline = null)
    {
        _command = command;
        _liveness = liveness;
        _stop = stop;
        _output = output ?? Console.Error;
        _exit = exit ?? Environment.Exit;
        _exitDeadline = exitDeadline ?? DefaultExitDeadline;
        _watching = WatchAsync(interval ?? DefaultInterval);
    }

    /// <summary>True once a loop died and the command was told to stop: the command's exit code is then 1.</summary>
    public bool LoopDied => _loopDied;

    /// <summary><paramref name="exitCode"/> as the command would return it, or 1 if a loop died.</summary>
    public int ExitCode(int exitCode) => _loopDied ? 1 : exitCode;

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        _disposed.Dispose();
    }

    private async Task WatchAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposed.Token).ConfigureAwait(false))
            {
                if (_liveness.Dead() is [var dead, ..])
                {
                    _loopDied = true;
                    var reason = dead.Failure is { } e ? $"{e.GetType().Name}: {e.Message}" : "unknown";
                    await _output.WriteLineAsync($"quicpipe {_command}: {dead.Name} died: {reason}; exiting").ConfigureAwait(false);
                    await _stop.CancelAsync().ConfigureAwait(false);
                    await Task.Delay(_exitDeadline, _disposed.Token).ConfigureAwait(false);
                    _exit(1);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            // The command ended (by itself, or after the stop above) before the deadline: nothing more to do.
        }
    }
}
