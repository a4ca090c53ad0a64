namespace QuicPipe.Peer;

/// <summary>What kind of failure a <see cref="PeerException"/> reports, for callers that map it to their own answers (a proxy's status code).</summary>
public enum PeerFailure
{
    /// <summary>None of the kinds below (a local problem, e.g. a malformed offer).</summary>
    Other,

    /// <summary>The relay did not answer, or is not the pinned one, or we are not connected to it.</summary>
    RelayUnreachable,

    /// <summary>The relay refused a registration.</summary>
    RelayRefused,

    /// <summary>The relay cannot reach the peer (not connected to it, unknown NodeId).</summary>
    PeerUnreachable,

    /// <summary>The peer refused us (not on its allow list).</summary>
    PeerRefused,

    /// <summary>The peer did not answer, or the handshake did not finish, in time.</summary>
    TimedOut,

    /// <summary>The QUIC handshake with the peer failed (wrong key, TLS alert).</summary>
    HandshakeFailed,

    /// <summary>
    /// Another process with this NodeId (the same key) registered at the relay and took over this endpoint's routes;
    /// the endpoint has stopped (<see cref="PeerEndpoint.Completion"/>) rather than take them back.
    /// </summary>
    Replaced,
}
