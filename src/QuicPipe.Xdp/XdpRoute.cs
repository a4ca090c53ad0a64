using QuicPipe.Dataplane;

namespace QuicPipe.Xdp;

/// <summary>
/// One CID route for the program: packets with <see cref="Cid"/> go to <see cref="Peer"/>, sent from
/// <see cref="RelaySource"/> (its port is ignored; the relay port is the one the packet arrived on), or,
/// when that is empty, from the address the packet was sent to.
/// </summary>
public readonly record struct XdpRoute(ConnectionId Cid, PeerAddress Peer, PeerAddress RelaySource = default);
