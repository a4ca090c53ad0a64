namespace QuicPipe.Relay.Fleet;

/// <summary>The fleet's directory cannot serve a request now: unreachable, too slow, or the other relay did not answer. The message says which.</summary>
public sealed class RelayDirectoryException : Exception
{
    public RelayDirectoryException()
    {
    }

    public RelayDirectoryException(string message)
        : base(message)
    {
    }

    public RelayDirectoryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
