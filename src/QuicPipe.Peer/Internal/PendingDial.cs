using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>One of our dials in progress: waiting for the peer's answer, or, when the dials crossed, for its connection.</summary>
internal sealed class PendingDial(NodeId peer)
{
    public NodeId Peer { get; } = peer;

    public TaskCompletionSource<DialAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The peer's own connection, when the dials crossed and the peer's is the one kept.</summary>
    public TaskCompletionSource<QuicConnection> Incoming { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public volatile bool Crossed;
}
