namespace QuicPipe.Peer;

/// <summary>A peer operation failed; the message says why in words a person can act on, <see cref="Failure"/> says what kind of failure it was.</summary>
public sealed class PeerException : Exception
{
    public PeerException()
    {
    }

    public PeerException(string message)
        : base(message)
    {
    }

    public PeerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PeerException(PeerFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public PeerFailure Failure { get; }
}
