namespace QuicPipe.Protocol;

/// <summary>
/// Constants of the relay control protocol (docs/relay-control.md): the ALPN a control connection
/// negotiates, the bounds both sides enforce, and the application error codes a side closes with.
/// </summary>
public static class RelayProtocol
{
    /// <summary>The ALPN of a control connection to a relay.</summary>
    public const string Alpn = "quicpipe-relay/1";

    /// <summary>Largest signal payload the relay passes on (bytes).</summary>
    public const int MaxSignalPayload = 4096;

    /// <summary>Length of a NodeId on the wire (SHA-256 of the SubjectPublicKeyInfo).</summary>
    public const int NodeIdLength = 32;

    /// <summary>Connection close code: the normal end of a control connection.</summary>
    public const long CloseNormal = 0;

    /// <summary>Connection close code: the client presented no certificate, so it has no NodeId to own CIDs.</summary>
    public const long CloseNoCertificate = 0x101;

    /// <summary>Connection close code: the peer broke the framing or sent too many malformed messages.</summary>
    public const long CloseProtocolError = 0x102;

    /// <summary>Connection close code: a newer control connection of the same NodeId took over.</summary>
    public const long CloseReplaced = 0x103;

    /// <summary>Connection close code: the relay is shutting down.</summary>
    public const long CloseShuttingDown = 0x104;

    /// <summary>Connection close code: the client's NodeId is not on the relay's allow-list (<c>relay --peers</c>).</summary>
    public const long CloseNotAllowed = 0x105;

    /// <summary>Connection close code: the client's source address (or its /24 or /64) has as many control connections as the relay takes from one.</summary>
    public const long CloseSourceQuota = 0x106;
}
