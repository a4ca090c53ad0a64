namespace QuicPipe.Relay;

/// <summary>A routes file that cannot be used; the message names the file and, where it applies, the line.</summary>
public sealed class RouteFileException : Exception
{
    public RouteFileException()
    {
    }

    public RouteFileException(string message)
        : base(message)
    {
    }

    public RouteFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
