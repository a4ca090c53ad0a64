using System.Net;

namespace QuicPipe.Peer;

/// <summary>A peer connection moved from one path to another (<see cref="PeerPath.Changed"/>).</summary>
public sealed class PeerPathChangedEventArgs(int sequence, PeerPathKind previousKind, IPEndPoint previousRemote, PeerPathKind kind, IPEndPoint remote) : EventArgs
{
    /// <summary>1 for the connection's first change, then 2, 3...</summary>
    public int Sequence { get; } = sequence;

    public PeerPathKind PreviousKind { get; } = previousKind;

    public IPEndPoint PreviousRemote { get; } = previousRemote;

    public PeerPathKind Kind { get; } = kind;

    /// <summary>Where the connection's packets go now: the relay, or the other peer's direct address.</summary>
    public IPEndPoint Remote { get; } = remote;
}
