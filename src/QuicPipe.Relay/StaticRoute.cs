using QuicPipe.Dataplane;

namespace QuicPipe.Relay;

/// <summary>One line of a routes file: packets whose destination CID is <see cref="Cid"/> go to <see cref="Endpoint"/>.</summary>
public readonly record struct StaticRoute(ConnectionId Cid, PeerAddress Endpoint, int Line);
