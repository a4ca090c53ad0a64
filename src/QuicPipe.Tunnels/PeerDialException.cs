namespace QuicPipe.Tunnels;

/// <summary>
/// Thrown by the dial function given to a <see cref="PeerTunnelConnector"/> to say why a peer could not be dialed
/// (any other exception from it counts as <see cref="PeerTunnelOutcome.PeerUnreachable"/>).
/// </summary>
public sealed class PeerDialException : Exception
{
    public PeerDialException()
        : this(PeerTunnelOutcome.PeerUnreachable, "The peer could not be dialed.")
    {
    }

    public PeerDialException(string message)
        : this(PeerTunnelOutcome.PeerUnreachable, message)
    {
    }

    public PeerDialException(string message, Exception innerException)
        : base(message, innerException)
    {
        Outcome = PeerTunnelOutcome.PeerUnreachable;
    }

    public PeerDialException(PeerTunnelOutcome outcome, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Outcome = outcome;
    }

    /// <summary><see cref="PeerTunnelOutcome.PeerRefused"/>, <see cref="PeerTunnelOutcome.PeerUnreachable"/> or <see cref="PeerTunnelOutcome.TimedOut"/>.</summary>
    public PeerTunnelOutcome Outcome { get; }
}
