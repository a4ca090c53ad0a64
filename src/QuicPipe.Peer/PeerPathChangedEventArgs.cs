using System.Net;

namespace QuicPipe.Peer;

/// <summary>A peer connection moved from one path to another (<see cref="PeerPath.Changed"/>).</summary>
public sealed class PeerPathChangedEventArgs(PeerPathKind previousKind, IPEndPoint previousRemote, PeerPathKind kind, IPEndPoint remote) : EventArgs
{
    public PeerPathKind PreviousKind { get; } = previousKind;

    public IPEndPoint PreviousRemote { get; } = previousRemote;

    public PeerPathKind Kind { get; } = kind;

    /// <summary>Where the connection's packets go now: the relay, or the other peer's direct address.</summary>
    public IPEndPoint Remote { get; } = remote;
}
