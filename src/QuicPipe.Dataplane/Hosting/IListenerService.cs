namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// Something that lives beside a listener's transport for as long as the listener runs: a QUIC endpoint on its
/// sockets, an XDP program on the interface in front of them, the relay's route upkeep. Packets reach a listener's
/// stages and connections reach its connection handlers; a service is neither, only a lifetime. The server creates
/// it at <see cref="QuicPipeServerBuilder.Build"/>, starts the services of a listener in the order they were added
/// once the listener's sockets are bound and before its first packet, and stops and disposes them in reverse, so a
/// service that builds on an earlier one (the XDP offload on the relay) is gone before what it builds on.
/// </summary>
public interface IListenerService : IAsyncDisposable
{
    /// <summary>Starts. On failure it throws and leaves nothing of its own running or bound.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops; <see cref="IAsyncDisposable.DisposeAsync"/> then releases what is left.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
