namespace QuicPipe.Peer;

/// <summary>
/// What a peer's port searches (docs/nat-traversal.md, "Symmetric NATs") did since it started: searches it took part
/// in, hits, datagrams sent (probes and opening pings), extra sockets opened; and the extra sockets and bridges open now.
/// </summary>
public readonly record struct PeerPortSearchCounters(long Searches, long Hits, long ProbesSent, long SocketsOpened, int SocketsOpen, int Bridges);
