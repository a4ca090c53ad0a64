namespace QuicPipe.Quic;

/// <summary>A stream direction was aborted, by the peer or locally, with an application error code.</summary>
public sealed class QuicStreamAbortedException : Exception
{
    public QuicStreamAbortedException()
    {
    }

    public QuicStreamAbortedException(string message)
        : base(message)
    {
    }

    public QuicStreamAbortedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal QuicStreamAbortedException(long streamId, long? errorCode, bool byPeer, string what)
        : base($"Stream {streamId}: {what}{(errorCode is { } code ? $" with application error code {code}" : string.Empty)}.")
    {
        ErrorCode = errorCode;
        ByPeer = byPeer;
    }

    /// <summary>
    /// The application error code; null when unknown (a peer's STOP_SENDING, which ngtcp2 0.12 answers on its own
    /// without reporting the code).
    /// </summary>
    public long? ErrorCode { get; }

    /// <summary>True if the peer aborted (RESET_STREAM or STOP_SENDING), false if this side did.</summary>
    public bool ByPeer { get; }
}
