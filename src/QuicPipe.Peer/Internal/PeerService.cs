using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// The peer's lifetime on its listener: when the server stops the listener, the peer stops first (its direct paths,
/// relay session and connection handlers end) and then the QUIC endpoint beneath it. Starting is the application's
/// (<see cref="PeerEndpoint.StartAsync(CancellationToken)"/>, after the server started), because its failure (no
/// relay) is the application's to report.
/// </summary>
internal sealed class PeerService(PeerEndpoint peer) : IListenerService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => peer.StopAsync();

    public ValueTask DisposeAsync() => new(peer.StopAsync());
}
