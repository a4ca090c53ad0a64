using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// QUIC endpoints on a UDP listener's sockets, one per address, each with a <see cref="QuicConnectionDispatcher"/>
/// serving its incoming connections with the listener's connection handler, published as
/// <see cref="QuicListenerEndpoints"/>. How an endpoint gets its datagrams is the derived class's: handed over by the
/// listener's stages (<see cref="AttachedQuicEndpointService"/>) or received by the endpoint itself
/// (<see cref="QuicLoopService"/>).
/// </summary>
internal abstract partial class QuicEndpointService(ListenerContext context, QuicEndpointOptions options, MultiplexedConnectionDelegate handler, ILogger logger)
    : IListenerService
{
    // How long stopping waits for the handlers to finish once asked, and then for the endpoints to close.
    private static readonly TimeSpan HandlerWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(10);

    private readonly List<QuicEndpoint> _endpoints = [];
    private readonly List<Task> _dispatchers = [];
    private readonly CancellationTokenSource _stopping = new();
    private bool _stopped;

    protected ListenerContext Context => context;

    protected QuicEndpointOptions Options => options;

    protected QuicListenerEndpoints Feature { get; private set; } = null!;

    protected UdpTransport Transport { get; private set; } = null!;

    public virtual Task StartAsync(CancellationToken cancellationToken)
    {
        Transport = context.Features.Get<UdpTransport>()
            ?? throw new InvalidOperationException($"{context}: a QUIC endpoint needs the listener's UDP sockets, and they are not bound.");
        Feature = new QuicListenerEndpoints(Transport.Listeners.Count);
        context.Features.Set(Feature);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;

        // Datagrams still arriving for the endpoints are dropped and counted from here on.
        Feature?.CloseInboxes();
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_dispatchers).WaitAsync(HandlerWait, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogSlowHandlers(logger, context.ToString(), HandlerWait.TotalSeconds);
        }

        await DisposeEndpointsAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Serves <paramref name="endpoint"/>'s connections from now until stop, and disposes it then.</summary>
    protected void Serve(QuicEndpoint endpoint)
    {
        lock (_endpoints)
        {
            _endpoints.Add(endpoint);
            _dispatchers.Add(QuicConnectionDispatcher.RunAsync(endpoint, handler, _stopping.Token, logger));
        }
    }

    /// <summary>
    /// Each endpoint stops its loop and closes what it owns: once this returns, only the listener holds the port.
    /// </summary>
    protected async Task DisposeEndpointsAsync()
    {
        Task[] disposals;
        lock (_endpoints)
        {
            disposals = _endpoints.Select(e => e.DisposeAsync().AsTask()).ToArray();
            _endpoints.Clear();
        }

        try
        {
            await Task.WhenAll(disposals).WaitAsync(DisposeWait, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogSlowDispose(logger, context.ToString(), DisposeWait.TotalSeconds);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Listener}: QUIC connection handlers did not finish within {Seconds} s of being asked")]
    private static partial void LogSlowHandlers(ILogger logger, string listener, double seconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "{Listener}: a QUIC endpoint did not close within {Seconds} s")]
    private static partial void LogSlowDispose(ILogger logger, string listener, double seconds);
}
