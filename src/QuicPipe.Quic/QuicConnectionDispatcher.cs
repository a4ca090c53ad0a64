using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// The accept side of a QUIC endpoint as Kestrel's transports have it: accepts each connection (handshake and pin
/// check done), hands it to a <see cref="MultiplexedConnectionDelegate"/> as a
/// <see cref="MultiplexedConnectionContext"/>, and disposes the context (closing the connection, if the handler
/// has not) when the handler returns. On stop it stops accepting, asks every running handler to finish
/// (<see cref="Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeNotificationFeature.RequestClose"/>), and
/// waits for them.
/// </summary>
public static partial class QuicConnectionDispatcher
{
    /// <summary>
    /// Serves <paramref name="endpoint"/>'s incoming connections with <paramref name="handler"/> until
    /// <paramref name="stopping"/> fires or the endpoint is disposed; returns once every handler has returned. A
    /// handler that throws is logged; its connection is closed and the others go on.
    /// </summary>
    public static async Task RunAsync(QuicEndpoint endpoint, MultiplexedConnectionDelegate handler, CancellationToken stopping, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(handler);
        logger ??= NullLogger.Instance;
        var running = new ConcurrentDictionary<QuicMultiplexedConnectionContext, Task>();
        try
        {
            while (true)
            {
                var connection = await endpoint.AcceptAsync(stopping).ConfigureAwait(false);
                var context = new QuicMultiplexedConnectionContext(connection);
                var serving = ServeAsync(context, handler, logger);
                running[context] = serving;

                // Attached after the entry exists, so a handler that ends at once still removes it.
                _ = serving.ContinueWith(t => running.TryRemove(context, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // The endpoint was disposed under us.
        }

        foreach (var context in running.Keys)
        {
            context.RequestClose();
        }

        await Task.WhenAll(running.Values).ConfigureAwait(false);
    }

    private static async Task ServeAsync(QuicMultiplexedConnectionContext context, MultiplexedConnectionDelegate handler, ILogger logger)
    {
        // Off the accept loop: a handler's synchronous start must not hold up the next connection.
        await Task.Yield();
        try
        {
            await handler(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A handler's failure ends its connection, never the endpoint's accept loop.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogHandlerFailed(logger, context.RemoteEndPoint?.ToString() ?? "?", e);
        }
        finally
        {
            await context.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "The handler of the QUIC connection from {Remote} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string remote, Exception exception);
}
