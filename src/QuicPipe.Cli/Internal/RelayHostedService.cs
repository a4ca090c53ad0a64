using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Relay;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Ties an already started relay to the host's lifetime: SIGHUP re-reads every <see cref="IReloadable"/> the host
/// holds (the routes file today) and logs one line saying what. Host shutdown (SIGINT, SIGTERM) stops the receive
/// loops through the server that runs the relay.
/// </summary>
internal sealed partial class RelayHostedService(RelayRouter relay, IEnumerable<IReloadable> reloadables, ILogger<RelayHostedService> logger) : IHostedService, IDisposable
{
    private readonly IReloadable[] _reloadables = [.. reloadables];
    private PosixSignalRegistration? _hangup;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // Without this, SIGHUP's default action would end the process.
            context.Cancel = true;
            Reload();
        });
        LogRunning(logger, Environment.ProcessId, relay.Table.Count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _hangup?.Dispose();

    private void Reload()
    {
        if (_reloadables.Length == 0)
        {
            LogNothingToReload(logger);
            return;
        }

        // Each part is applied or refused whole by itself; the line names every part and how it went.
        var reloaded = new List<string>();
        var refused = new List<string>();
        foreach (var reloadable in _reloadables)
        {
            try
            {
                reloaded.Add($"{reloadable.What} ({reloadable.Reload()})");
            }
            catch (ReloadException e)
            {
                refused.Add($"{reloadable.What}: {e.Message}");
            }
        }

        if (refused.Count == 0)
        {
            LogReloaded(logger, string.Join("; ", reloaded));
        }
        else
        {
            LogReloadFailed(logger, string.Join("; ", refused), reloaded.Count == 0 ? "nothing" : string.Join("; ", reloaded));
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Relay running (pid {Pid}, {Routes} route(s)): Ctrl+C or SIGTERM stops it, SIGHUP reloads the routes file and the allow-list and checks the config file")]
    private static partial void LogRunning(ILogger logger, int pid, int routes);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "SIGHUP: nothing to reload (start with --routes FILE, --peers FILE or --config FILE)")]
    private static partial void LogNothingToReload(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "SIGHUP: not reloaded: {Refused}; reloaded: {Reloaded}")]
    private static partial void LogReloadFailed(ILogger logger, string refused, string reloaded);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "SIGHUP: reloaded {Reloaded}")]
    private static partial void LogReloaded(ILogger logger, string reloaded);
}
