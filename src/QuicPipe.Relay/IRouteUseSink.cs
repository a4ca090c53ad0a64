using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>
/// Told by the forwarding stage that a packet was forwarded on a route whose owner asked to hear about it
/// (<see cref="RouteFlags.ReportUse"/> in <see cref="CidRoute.OwnerId"/>). Called on receive-loop threads,
/// once per such packet: an implementation must be lock-free, allocation-free and may drop notices
/// (the CID is seen again on its next packet).
/// </summary>
public interface IRouteUseSink
{
    void OnRouteUsed(in ConnectionId cid);
}
