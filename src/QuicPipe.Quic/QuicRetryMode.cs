namespace QuicPipe.Quic;

/// <summary>When a server endpoint validates a client's address with a Retry packet (RFC 9000 8.1.2) before it creates a connection.</summary>
public enum QuicRetryMode
{
    /// <summary>Never: every Initial that passes the checks and limits starts a handshake.</summary>
    Never,

    /// <summary>
    /// Once <see cref="QuicEndpointOptions.RetryThreshold"/> handshakes are open: an Initial without a valid token then
    /// gets a Retry and costs nothing more, so only clients that receive at their source address get a connection.
    /// </summary>
    Auto,

    /// <summary>Always: every first Initial gets a Retry (one more round trip for every client).</summary>
    Always,
}
