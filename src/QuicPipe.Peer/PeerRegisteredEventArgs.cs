using System.Net;

namespace QuicPipe.Peer;

/// <summary>The peer (re-)registered with one of its relays, <see cref="Relay"/>, which sees it at <see cref="PublicEndPoint"/>.</summary>
public sealed class PeerRegisteredEventArgs(IPEndPoint relay, IPEndPoint publicEndPoint, int registrations) : EventArgs
{
    /// <summary>The relay's address.</summary>
    public IPEndPoint Relay { get; } = relay;

    public IPEndPoint PublicEndPoint { get; } = publicEndPoint;

    /// <summary>1 for the first registration with this relay, then one more per re-registration with it.</summary>
    public int Registrations { get; } = registrations;
}
