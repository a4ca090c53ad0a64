using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// The relay's lifetime on its listener: once the sockets are bound it loads the static routes (checked against
/// the bound addresses) and starts the registry's upkeep; on stop the upkeep ends. Packets and control connections
/// reach the relay through the listener's stages and QUIC endpoint, not through this.
/// </summary>
internal sealed class RelayRouterService(RelayRouter relay, ListenerContext context) : IListenerService
{
    private bool _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        relay.Start(context.Features.Get<UdpTransport>()
            ?? throw new InvalidOperationException($"{context}: the relay needs the listener's UDP sockets, and they are not bound."));
        _started = true;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            return Task.CompletedTask;
        }

        _started = false;
        return relay.StopAsync();
    }

    public ValueTask DisposeAsync() => new(StopAsync(CancellationToken.None));
}
