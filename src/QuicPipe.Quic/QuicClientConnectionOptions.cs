using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>How to dial one connection: whom we expect, which protocol, and (optionally) the initial CIDs.</summary>
public sealed class QuicClientConnectionOptions
{
    /// <summary>The server's NodeId; the handshake fails unless its certificate has exactly this key.</summary>
    public NodeId? ExpectedPeer { get; set; }

    /// <summary>Accept any server certificate (interop with servers that have no NodeId). Never the default.</summary>
    public bool AllowAnyPeer { get; set; }

    /// <summary>The ALPN protocol to offer.</summary>
    public string Alpn { get; set; } = "quicpipe";

    /// <summary>The client's initial destination CID (8 to 20 bytes); random when not set.</summary>
    public ConnectionId? InitialDestinationConnectionId { get; set; }

    /// <summary>The client's source CID (the endpoint's CID length); from the endpoint's generator when not set.</summary>
    public ConnectionId? SourceConnectionId { get; set; }

    internal void Validate()
    {
        if (ExpectedPeer is null == !AllowAnyPeer)
        {
            throw new ArgumentException("Set exactly one of ExpectedPeer (pin the server) and AllowAnyPeer.");
        }

        if (string.IsNullOrEmpty(Alpn) || Alpn.Length > 255)
        {
            throw new ArgumentException("The ALPN is 1 to 255 characters.");
        }

        if (InitialDestinationConnectionId is { Length: < 8 })
        {
            throw new ArgumentException("The initial destination CID has at least 8 bytes (RFC 9000 §7.2).");
        }
    }
}
