using System.Net;

namespace QuicPipe.Peer;

/// <summary>The peer (re-)registered with its relay, which sees it at <see cref="PublicEndPoint"/>.</summary>
public sealed class PeerRegisteredEventArgs(IPEndPoint publicEndPoint, int registrations) : EventArgs
{
    public IPEndPoint PublicEndPoint { get; } = publicEndPoint;

    /// <summary>1 for the first registration, then one more per re-registration.</summary>
    public int Registrations { get; } = registrations;
}
