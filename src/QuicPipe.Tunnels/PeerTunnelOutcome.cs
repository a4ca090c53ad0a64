namespace QuicPipe.Tunnels;

/// <summary>
/// How an attempt to reach a port on a peer ended (<see cref="PeerTunnelConnector"/>). Each proxy protocol maps it
/// to its own answer (HTTP status, SOCKS5 reply code); the table is in docs/proxies.md.
/// </summary>
public enum PeerTunnelOutcome
{
    /// <summary>The peer connected to the port; the stream carries data.</summary>
    Connected,

    /// <summary>The peer turned us away: it does not allow our NodeId, or the port is not one it exposes to us.</summary>
    PeerRefused,

    /// <summary>The peer could not be reached (not on the relay, handshake failed, connection lost).</summary>
    PeerUnreachable,

    /// <summary>The peer reached for the port and it refused (nothing listening): the tunnel status "refused".</summary>
    PortRefused,

    /// <summary>The peer could not reach the target (its connect timed out or had no route).</summary>
    TargetUnreachable,

    /// <summary>Dialing the peer and opening the tunnel took longer than the connector's <c>ConnectTimeout</c>.</summary>
    TimedOut,

    /// <summary>The peer answered with something unexpected (a bad-header status or an unknown one).</summary>
    Failed,
}
