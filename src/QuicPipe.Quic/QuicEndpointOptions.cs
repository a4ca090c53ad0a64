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

        if (AcceptIncoming && ExpectedClient is null && !AllowAnyClient)
        {
            throw new ArgumentException("An accepting endpoint pins its clients: set ExpectedClient, or AllowAnyClient explicitly.");
        }
    }
}
