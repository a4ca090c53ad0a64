using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>Settings of a <see cref="QuicEndpoint"/>: our identity, CIDs, timeouts and whether (and whom) it accepts.</summary>
public sealed class QuicEndpointOptions
{
    /// <summary>Our key and certificate, presented to every peer (both as client and as server).</summary>
    public NodeIdentity? Identity { get; set; }

    /// <summary>Length of every CID this endpoint issues, 8 to 20 (default 12, as the relay expects).</summary>
    public int ConnectionIdLength { get; set; } = 12;

    /// <summary>Closes a connection after this long without traffic (QUIC max_idle_timeout).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Fails a connection whose handshake has not completed this long after it started (default 10 s). Bounds
    /// how long a half-open connection (e.g. one started by a forged or junk Initial) holds its slot.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most incoming connections that may be in their handshake at once (default 256); Initials that would start
    /// another are dropped and counted in <see cref="QuicEndpoint.RefusedConnections"/>.
    /// </summary>
    public int MaxHandshakingConnections { get; set; } = 256;

    /// <summary>
    /// Most live connections (both directions, handshaking or not; default 4096). Beyond it incoming Initials are
    /// refused (counted) and <see cref="QuicEndpoint.ConnectAsync"/> throws. Connections in their closing or
    /// draining period count against a separate limit of the same size.
    /// </summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// Lower bound of the closing and draining periods (normally three probe timeouts, RFC 9000 §10.2): lets tests
    /// observe a period that on loopback lasts only milliseconds.
    /// </summary>
    internal TimeSpan MinimumClosingPeriod { get; set; } = TimeSpan.Zero;

    /// <summary>Accept incoming connections (be a server). Off: only <see cref="QuicEndpoint.ConnectAsync"/> works.</summary>
    public bool AcceptIncoming { get; set; }

    /// <summary>The ALPN protocol incoming connections must offer.</summary>
    public string ServerAlpn { get; set; } = "quicpipe";

    /// <summary>The only client NodeId incoming connections may present (mutual TLS, pinned).</summary>
    public NodeId? ExpectedClient { get; set; }

    /// <summary>Accept any client certificate instead of pinning <see cref="ExpectedClient"/> (tests, interop).</summary>
    public bool AllowAnyClient { get; set; }

    /// <summary>Secret keying the stateless-reset tokens of our CIDs; random when not set.</summary>
    public byte[]? StatelessResetKey { get; set; }

    /// <summary>Issues the CIDs for our side (server SCIDs and NEW_CONNECTION_ID); random when not set.</summary>
    public Func<int, ConnectionId>? ConnectionIdGenerator { get; set; }

    internal void Validate()
    {
        if (Identity is null)
        {
            throw new ArgumentException("QuicEndpointOptions.Identity is required.");
        }

        if (ConnectionIdLength is < 8 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectionIdLength), ConnectionIdLength, "CIDs are 8 to 20 bytes here.");
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The handshake timeout must be positive.");
        }

        if (MaxHandshakingConnections < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxHandshakingConnections), MaxHandshakingConnections, "At least one handshake must be allowed.");
        }

        if (MaxConnections < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "At least one connection must be allowed.");
        }

        if (AcceptIncoming && ExpectedClient is null && !AllowAnyClient)
        {
            throw new ArgumentException("An accepting endpoint pins its clients: set ExpectedClient, or AllowAnyClient explicitly.");
        }
    }
}
