using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>
/// Told by <see cref="RelayRouter"/> whenever its routes change: a forwarding offload (the XDP program)
/// implements it to keep its own table in step with the relay's. The relay calls it after its CID table
/// already holds the change, one change at a time, on the thread that made it.
/// </summary>
public interface IRouteObserver
{
    /// <summary>These CIDs are now routed to these endpoints (new routes, or routes that may have changed).</summary>
    void OnRoutesSet(ReadOnlySpan<(ConnectionId Cid, PeerAddress Endpoint)> routes);

    /// <summary>These CIDs are no longer routed.</summary>
    void OnRoutesRemoved(ReadOnlySpan<ConnectionId> cids);
}
