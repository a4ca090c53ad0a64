namespace QuicPipe.Protocol;

/// <summary>
/// The control stream broke the protocol: a frame too large, a stream that ended inside a frame, or a
/// frame whose bytes are not the expected message.
/// </summary>
public sealed class ControlProtocolException : Exception
{
    public ControlProtocolException()
    {
    }

    public ControlProtocolException(string message)
        : base(message)
    {
    }

    public ControlProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// True when only the message was bad (its frame was read whole and skipped): the next message can
    /// still be read. False when the framing itself is broken and the stream is unusable.
    /// </summary>
    public bool IsRecoverable { get; init; }
}
