using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting.Internal;

namespace QuicPipe.Dataplane.Hosting;

// Creating the listeners' services at Build, and disposing them so that one failing does not leave the rest bound.
public sealed partial class QuicPipeServer
{
    internal static QuicPipeServer Create(IHost host, IReadOnlyList<ListenerBuilder> builders)
    {
        var loggerFactory = host.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("QuicPipe.Server");
        var listeners = new List<ListenerRuntime>();
        try
        {
            foreach (var builder in builders)
            {
                var context = new ListenerContext(builder.Transport, builder.Endpoints, host.Services);
                var services = new List<IListenerService>();

                // Added before its factories run, so a factory that throws still gets the earlier ones disposed.
                ListenerRuntime runtime = builder switch
                {
                    UdpListenerBuilder udp => new UdpListenerRuntime(udp, context, services, loggerFactory),
                    TcpListenerBuilder tcp => new TcpListenerRuntime(tcp, context, services, logger),
                    _ => throw new InvalidOperationException($"{context}: no transport for {builder.GetType().Name}."),
                };
                listeners.Add(runtime);
                foreach (var factory in builder.Services)
                {
                    services.Add(factory(context) ?? throw new InvalidOperationException($"{context}: a service factory returned null."));
                }

                // After the services: a handler may find what they published at Build.
                (runtime as TcpListenerRuntime)?.BuildHandler();
            }
        }
        catch
        {
            // Nothing is bound before start, so disposing here only releases what constructors took.
            for (var i = listeners.Count - 1; i >= 0; i--)
            {
                listeners[i].DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            host.Dispose();
            throw;
        }

        return new QuicPipeServer(host, [.. listeners], logger);
    }

    private async Task DisposeListenersAsync()
    {
        if (_listenersDisposed)
        {
            return;
        }

        _listenersDisposed = true;
        for (var i = _listeners.Length - 1; i >= 0; i--)
        {
            await _listeners[i].DisposeAsync().ConfigureAwait(false);
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

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Part} did not stop cleanly")]
    private static partial void LogStopFailed(ILogger logger, string part, Exception exception);
}
