using QuicPipe.Dataplane;

namespace QuicPipe.Xdp;

/// <summary>A short-header packet whose CID had no route; the program passed it to the stack.</summary>
/// <param name="Cid">The packet's destination CID.</param>
/// <param name="Source">Who sent it.</param>
/// <param name="InterfaceIndex">The interface it arrived on.</param>
/// <param name="RelayPort">The relay port it was sent to.</param>
public readonly record struct XdpMissEvent(ConnectionId Cid, PeerAddress Source, int InterfaceIndex, int RelayPort);
