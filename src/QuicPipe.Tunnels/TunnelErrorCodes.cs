namespace QuicPipe.Tunnels;

/// <summary>
/// QUIC application error codes used on tunnel streams (RESET_STREAM / STOP_SENDING); the table is in
/// docs/tcp-over-quic.md. Codes 0x01-0x04 equal the <see cref="TunnelStatus"/> failures.
/// </summary>
public static class TunnelErrorCodes
{
    /// <summary>No error.</summary>
    public const long None = 0x00;

    /// <summary>The target refused the connection.</summary>
    public const long Refused = (long)TunnelStatus.Refused;

    /// <summary>The target could not be reached.</summary>
    public const long Unreachable = (long)TunnelStatus.Unreachable;

    /// <summary>Not on the allow-list.</summary>
    public const long NotAllowed = (long)TunnelStatus.NotAllowed;

    /// <summary>The stream header was malformed, truncated, late or of an unknown version.</summary>
    public const long BadHeader = (long)TunnelStatus.BadHeader;

    /// <summary>The TCP connection on the sending side was reset or failed after data started to flow.</summary>
    public const long TcpReset = 0x10;

    /// <summary>The tunnel (forwarder or exposer) is shutting down.</summary>
    public const long TunnelClosing = 0x11;

    /// <summary>The sending side failed unexpectedly (a bug; see its log).</summary>
    public const long InternalError = 0x12;

    /// <summary>The forwarding side received a status byte it does not know.</summary>
    public const long BadStatus = 0x13;
}
