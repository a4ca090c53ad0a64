using System.Net;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// Runs the dialer's side of a port search for <paramref name="session"/> toward the peer's
/// <paramref name="candidates"/>: the direct address found (and the bridge it goes through, if the hit was on one of
/// our extra sockets), or null when the search did not run or found nothing. Never throws for cancellation.
/// </summary>
internal delegate Task<(IPEndPoint Direct, PortBridge? Bridge)?> PortSearchStarter(PunchSession session, IReadOnlyList<IPEndPoint> candidates, CancellationToken cancellationToken);
