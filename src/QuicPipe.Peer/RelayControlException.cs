namespace QuicPipe.Peer;

/// <summary>A relay control request failed: refused by the relay (<see cref="Code"/> says why) or the connection was lost.</summary>
public sealed class RelayControlException : Exception
{
    public RelayControlException()
    {
    }

    public RelayControlException(string message)
        : base(message)
    {
    }

    public RelayControlException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RelayControlException(RelayErrorCode code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    public RelayErrorCode Code { get; }
}
