using System.Net;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// A tunnel or proxy on a server builder's TCP listener. They bind their own socket when started and have no stop
/// apart from disposing, so the service starts one on the listener's address, publishes it in the listener's
/// features (for its address and counters), and disposes it on stop. (The UDP side's transports belong to the
/// server; the TCP side's move there when the tunnels become connection handlers.)
/// </summary>
internal sealed class TcpService<TService>(ListenerContext context, Func<IPEndPoint, TService> start) : IListenerService
    where TService : class, IAsyncDisposable
{
    private TService? _service;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_service is not null)
        {
            throw new InvalidOperationException($"{context}: the {typeof(TService).Name} is already started.");
        }

        var service = start(context.Endpoints[0]);
        context.Features.Set(service);
        _service = service;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _service, null) is { } service)
        {
            await service.DisposeAsync().ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(CancellationToken.None));
}
