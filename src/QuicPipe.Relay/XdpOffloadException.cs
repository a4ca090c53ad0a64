namespace QuicPipe.Relay;

/// <summary>The relay's XDP offload could not start; the message says why in terms an operator can act on.</summary>
public sealed class XdpOffloadException : Exception
{
    public XdpOffloadException()
    {
    }

    public XdpOffloadException(string message)
        : base(message)
    {
    }

    public XdpOffloadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
