using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Vpn.Internal;

/// <summary>The VPN's life on its TUN listener: once the device exists, packets from peers are written into it.</summary>
internal sealed class VpnTunService(VpnRouter router, ListenerContext context) : IListenerService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        router.AttachTun(context.Features.Get<TunTransport>() ?? throw new InvalidOperationException($"{context}: UseVpn needs a TUN listener."));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        router.AttachTun(null);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
