namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// One job on a listener: forwarding, an offload, a proxy. The server creates it at
/// <see cref="QuicPipeServerBuilder.Build"/>, starts the handlers of a listener in the order they were added,
/// and stops and disposes them in reverse, so a handler that builds on an earlier one (the XDP offload on the
/// relay) is gone before what it builds on.
/// </summary>
public interface IListenerHandler : IAsyncDisposable
{
    /// <summary>Binds and starts serving. On failure it throws and leaves nothing of its own bound.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops serving; <see cref="IAsyncDisposable.DisposeAsync"/> then releases what is left.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
