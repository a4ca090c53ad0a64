using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A QUIC endpoint on each address of a UDP listener, living on the listener's sockets: started once they are
/// bound (each endpoint sends through a duplicate of its address's first socket), with a
/// <see cref="QuicConnectionDispatcher"/> serving its incoming connections with the listener's connection handler.
/// Published as <see cref="QuicListenerEndpoints"/> for the stage that delivers to them.
/// </summary>
internal sealed partial class QuicEndpointService(ListenerContext context, QuicEndpointOptions options, MultiplexedConnectionDelegate handler, ILogger logger)
    : IListenerService
{
    // How long stopping waits for the handlers to finish once asked, and then for the endpoints to close.
    private static readonly TimeSpan HandlerWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(10);

    private readonly List<QuicEndpoint> _endpoints = [];
    private readonly List<Task> _dispatchers = [];
    private CancellationTokenSource? _stopping;
    private QuicListenerEndpoints? _feature;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var transport = context.Features.Get<UdpTransport>()
            ?? throw new InvalidOperationException($"{context}: a QUIC endpoint needs the listener's UDP sockets, and they are not bound.");
        var inboxes = new List<QuicSharedSocket>();
        try
        {
            foreach (var listener in transport.Listeners)
            {
                var inbox = new QuicSharedSocket(listener.DuplicateSocketForSending());
                inboxes.Add(inbox);
                _endpoints.Add(QuicEndpoint.Attach(inbox, options));
            }
        }
        catch
        {
            // Attach disposes the inbox it fails with; the endpoints made before it are disposed here.
            DisposeEndpointsAsync().GetAwaiter().GetResult();
            throw;
        }

        _feature = new QuicListenerEndpoints([.. _endpoints], [.. inboxes]);
        context.Features.Set(_feature);
        _stopping = new CancellationTokenSource();
        foreach (var endpoint in _endpoints)
        {
            _dispatchers.Add(QuicConnectionDispatcher.RunAsync(endpoint, handler, _stopping.Token, logger));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopping, null) is not { } stopping)
        {
            return;
        }

        // Datagrams still arriving for the endpoints are dropped and counted from here on.
        _feature?.CloseInboxes();
        await stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_dispatchers).WaitAsync(HandlerWait, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogSlowHandlers(logger, context.ToString(), HandlerWait.TotalSeconds);
        }

        _dispatchers.Clear();
        stopping.Dispose();
        await DisposeEndpointsAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(StopOrDisposeAsync());

    private async Task StopOrDisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await DisposeEndpointsAsync().ConfigureAwait(false);
    }

    /// <summary>Each endpoint closes its duplicate of a listener socket: once this returns, only the listener holds the port.</summary>
    private async Task DisposeEndpointsAsync()
    {
        var disposals = _endpoints.Select(e => e.DisposeAsync().AsTask()).ToArray();
        _endpoints.Clear();
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
