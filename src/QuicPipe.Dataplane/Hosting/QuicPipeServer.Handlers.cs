using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting;

// Creating the handlers at Build, and stopping and disposing them so that one failing does not leave the rest bound.
public sealed partial class QuicPipeServer
{
    internal static QuicPipeServer Create(IHost host, IReadOnlyList<ListenerBuilder> builders)
    {
        var listeners = new List<ListenerHandlers>();
        try
        {
            foreach (var builder in builders)
            {
                var context = new ListenerContext(builder.Transport, builder.Endpoints, host.Services);
                var handlers = new List<IListenerHandler>();

                // Added before its factories run, so a factory that throws still gets the earlier ones disposed.
                listeners.Add(new ListenerHandlers(context, handlers));
                foreach (var factory in builder.Handlers)
                {
                    handlers.Add(factory(context) ?? throw new InvalidOperationException($"{context}: a handler factory returned null."));
                }
            }
        }
        catch
        {
            // Nothing is bound before start, so disposing here only releases what constructors took.
            foreach (var handler in listeners.SelectMany(l => l.Handlers).Reverse())
            {
                handler.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            host.Dispose();
            throw;
        }

        return new QuicPipeServer(host, [.. listeners]);
    }

    private IEnumerable<IListenerHandler> AllHandlersReversed() =>
        _listeners.SelectMany(l => l.Handlers).Reverse();

    private async Task DisposeHandlersAsync()
    {
        if (_handlersDisposed)
        {
            return;
        }

        _handlersDisposed = true;
        foreach (var handler in AllHandlersReversed())
        {
            try
            {
                await handler.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // One handler failing to release must not keep the others bound.
                LogDisposeFailed(_logger, handler.GetType().Name, e);
            }
        }
    }

    /// <summary>Runs one stop step; a failure is logged, not thrown, so the steps after it still run.</summary>
    private async Task StopQuietlyAsync(Func<CancellationToken, Task> stop, CancellationToken cancellationToken)
    {
        try
        {
            await stop(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogStopFailed(_logger, stop.Target?.GetType().Name ?? "?", e);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Handler} did not stop cleanly")]
    private static partial void LogStopFailed(ILogger logger, string handler, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "{Handler} did not dispose cleanly")]
    private static partial void LogDisposeFailed(ILogger logger, string handler, Exception exception);

    /// <summary>One listener's context and its handlers, in the order they were added.</summary>
    private sealed record ListenerHandlers(ListenerContext Context, List<IListenerHandler> Handlers);
}
