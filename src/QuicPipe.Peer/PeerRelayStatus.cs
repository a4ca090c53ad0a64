using System.Net;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// One of a peer's relays, as the endpoint sees it now (<see cref="PeerEndpoint.Relays"/>).
/// </summary>
/// <param name="EndPoint">The relay's UDP address.</param>
/// <param name="Id">The relay's NodeId (pinned, or trusted on first use); null until first met.</param>
/// <param name="IsRegistered">Whether the peer has a control connection to it and is registered there now.</param>
/// <param name="PublicEndPoint">Our address as this relay last saw it.</param>
/// <param name="Registrations">Times the peer registered with it (1 after start; more after reconnects).</param>
public sealed record PeerRelayStatus(IPEndPoint EndPoint, NodeId? Id, bool IsRegistered, IPEndPoint? PublicEndPoint, int Registrations);
