namespace QuicPipe.Quic;

/// <summary>An incoming connection failed before the application saw it (for example, a pin mismatch).</summary>
public sealed class QuicConnectionFailedEventArgs : EventArgs
{
    public QuicConnectionFailedEventArgs(System.Net.IPEndPoint remote, QuicConnectionException error)
    {
        Remote = remote;
        Error = error;
    }

    public System.Net.IPEndPoint Remote { get; }

    public QuicConnectionException Error { get; }
}
