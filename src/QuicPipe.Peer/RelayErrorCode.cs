namespace QuicPipe.Peer;

/// <summary>Why a relay control request failed: the relay's error codes (quicpipe.relay.v1.ErrorCode), plus local failures.</summary>
public enum RelayErrorCode
{
    Unspecified = 0,
    BadRequest = 1,
    CidOwnedByOther = 2,
    QuotaExceeded = 3,
    UnknownNode = 4,
    RateLimited = 5,
    NotRegistered = 6,

    /// <summary>Our NodeId is not on the relay's allow-list (its operator runs it with --peers).</summary>
    NotAllowed = 7,

    /// <summary>The control connection ended (or could not be used) before the answer came.</summary>
    ConnectionLost = 1000,

    /// <summary>The relay answered with something that is not an answer to this request.</summary>
    UnexpectedAnswer = 1001,
}
