using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// One listener of a built server: its context and its services, started in the order added and stopped and
/// disposed in reverse. A transport that binds (UDP) derives from it and binds before the services start.
/// </summary>
internal abstract partial class ListenerRuntime
{
    private readonly List<IListenerService> _started = [];

    protected ListenerRuntime(ListenerContext context, IReadOnlyList<IListenerService> services, ILogger logger)
    {
        Context = context;
        Services = services;
        Logger = logger;
    }

    public ListenerContext Context { get; }

    /// <summary>In the order they were added.</summary>
    public IReadOnlyList<IListenerService> Services { get; }

    protected ILogger Logger { get; }

    /// <summary>Starts every service; if one throws, those started before it are stopped and the error thrown.</summary>
    public virtual async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var service in Services)
            {
                await service.StartAsync(cancellationToken).ConfigureAwait(false);
                _started.Add(service);
            }
        }
        catch
        {
            await StopServicesAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public virtual Task StopAsync(CancellationToken cancellationToken) => StopServicesAsync(cancellationToken);

    /// <summary>Disposes every service, started or not, last added first; a failure is logged and the rest go on.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        for (var i = Services.Count - 1; i >= 0; i--)
        {
            try
            {
                await Services[i].DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // One service failing to release must not keep the others bound.
                LogDisposeFailed(Logger, Services[i].GetType().Name, e);
            }
        }
    }

    private async Task StopServicesAsync(CancellationToken cancellationToken)
    {
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            try
            {
                await _started[i].StopAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Logged, not thrown, so the services before it still stop.
                LogStopFailed(Logger, _started[i].GetType().Name, e);
            }
        }

        _started.Clear();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Service} did not stop cleanly")]
    private static partial void LogStopFailed(ILogger logger, string service, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "{Service} did not dispose cleanly")]
    private static partial void LogDisposeFailed(ILogger logger, string service, Exception exception);
}
