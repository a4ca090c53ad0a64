using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Relay;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Ties an already started relay to the host's lifetime: SIGHUP reloads the routes file. Host shutdown
/// (SIGINT, SIGTERM) stops the receive loops through the server that runs the relay.
/// </summary>
internal sealed partial class RelayHostedService(RelayRouter relay, ILogger<RelayHostedService> logger, bool hasRoutesFile) : IHostedService, IDisposable
{
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
        if (!hasRoutesFile)
        {
            LogNoRoutesFile(logger);
            return;
        }

        try
        {
            relay.ReloadRoutes();
        }
        catch (RouteFileException e)
        {
            LogReloadFailed(logger, e.Message);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Relay running (pid {Pid}, {Routes} route(s)): Ctrl+C or SIGTERM stops it, SIGHUP reloads the routes file")]
    private static partial void LogRunning(ILogger logger, int pid, int routes);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "SIGHUP: no routes file to reload (start with --routes FILE)")]
    private static partial void LogNoRoutesFile(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "SIGHUP: routes not reloaded, the old routes stay: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);
}
