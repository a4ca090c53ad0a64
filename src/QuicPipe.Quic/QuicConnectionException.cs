namespace QuicPipe.Quic;

/// <summary>A connection failed or was closed with an error; the message says who closed it and why.</summary>
public sealed class QuicConnectionException : Exception
{
    public QuicConnectionException()
    {
    }

    public QuicConnectionException(string message)
        : base(message)
    {
    }

    public QuicConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The native error code (ngtcp2 or shim), if the failure was local; 0 otherwise.</summary>
    public int NativeError { get; init; }

    /// <summary>
    /// True when the connection ended because nothing came from the peer in time (the idle timeout, or the handshake
    /// timeout): nobody answered, as opposed to an answer that refused us.
    /// </summary>
    public bool IsUnanswered { get; init; }

    /// <summary>True when the peer's certificate did not match the pinned NodeId.</summary>
    public bool IsPinMismatch { get; init; }

    /// <summary>The application error code the peer closed the connection with, if it did (0 is a graceful close).</summary>
    public long? PeerApplicationErrorCode { get; init; }

    /// <summary>The reason phrase of the peer's CONNECTION_CLOSE, if it closed the connection and gave one.</summary>
    public string? PeerReasonPhrase { get; init; }
}
