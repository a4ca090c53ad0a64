using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// The relay as a handler on a server builder's UDP listener: it starts and stops a <see cref="RelayServer"/>
/// serving the listener's addresses. The relay is published in the listener's features when the handler is
/// created, so a handler after it (the XDP offload) and the application (stats, route reloads) can reach it.
/// </summary>
internal sealed partial class RelayForwardingHandler : IListenerHandler
{
    // How long stopping waits for a receive loop before it reports a slow stop and goes on.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(1);

    private readonly RelayServer _relay;
    private readonly ILogger _logger;

    public RelayForwardingHandler(RelayServer relay, ILogger logger)
    {
        _relay = relay;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _relay.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_relay.Stop(StopTimeout))
        {
            LogSlowStop(_logger, StopTimeout.TotalMilliseconds);
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _relay.Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "A receive loop did not stop within {Milliseconds} ms")]
    private static partial void LogSlowStop(ILogger logger, double milliseconds);
}
