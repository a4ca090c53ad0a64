using System.Net;

namespace QuicPipe.Quic;

/// <summary>The connection's path changed, or a new path failed validation (<see cref="QuicConnection.PathChanged"/>).</summary>
public sealed class QuicPathChangedEventArgs : EventArgs
{
    public QuicPathChangedEventArgs(IPEndPoint oldLocalEndPoint, IPEndPoint oldRemoteEndPoint, IPEndPoint newLocalEndPoint, IPEndPoint newRemoteEndPoint, QuicPathChangeReason reason)
    {
        OldLocalEndPoint = oldLocalEndPoint;
        OldRemoteEndPoint = oldRemoteEndPoint;
        NewLocalEndPoint = newLocalEndPoint;
        NewRemoteEndPoint = newRemoteEndPoint;
        Reason = reason;
    }

    /// <summary>Our address on the path before (the endpoint's socket address, as the engine knows it).</summary>
    public IPEndPoint OldLocalEndPoint { get; }

    /// <summary>The peer's address before.</summary>
    public IPEndPoint OldRemoteEndPoint { get; }

    /// <summary>Our address on the path after (differs from the old one only after a rebind).</summary>
    public IPEndPoint NewLocalEndPoint { get; }

    /// <summary>The peer's address after; for a failed validation of our own migration, the address that failed.</summary>
    public IPEndPoint NewRemoteEndPoint { get; }

    public QuicPathChangeReason Reason { get; }

    public override string ToString() => $"{Reason}: {OldLocalEndPoint} -> {OldRemoteEndPoint} => {NewLocalEndPoint} -> {NewRemoteEndPoint}";
}
