namespace QuicPipe.Tunnels;

/// <summary>
/// The one-byte answer the exposing side writes on a tunnel stream once it has handled the header
/// (docs/tcp-over-quic.md). A failure status is also the application error code of the STOP_SENDING that follows.
/// </summary>
public enum TunnelStatus : byte
{
    /// <summary>Connected to the target; data flows after this byte.</summary>
    Ok = 0x00,

    /// <summary>The target actively refused the connection (TCP RST).</summary>
    Refused = 0x01,

    /// <summary>The target could not be reached (timeout, no route, name not resolved).</summary>
    Unreachable = 0x02,

    /// <summary>The peer, port or host is not on the exposing side's allow-list.</summary>
    NotAllowed = 0x03,

    /// <summary>The header was malformed, truncated, too slow to arrive, or of an unknown version.</summary>
    BadHeader = 0x04,
}
