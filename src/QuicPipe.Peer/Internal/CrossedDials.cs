using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// Crossed dials: A and B dial each other at the same moment. Exactly one connection survives, the same on both
/// sides and without a round of negotiation: the one dialed by the peer whose NodeId sorts first (byte order). That
/// peer refuses the other's request as "crossed"; the other answers it, and its own dial completes with the
/// incoming connection instead of making a second one. (A direct and a relayed attempt never race: the direct path
/// is the same connection, migrated.)
/// </summary>
/// <param name="self">Our NodeId.</param>
/// <param name="dials">Our dials in progress (the endpoint's table, by dial id).</param>
/// <param name="allows">Whether a peer may dial us.</param>
/// <param name="logger">The endpoint's logger.</param>
internal sealed partial class CrossedDials(NodeId self, ConcurrentDictionary<ulong, PendingDial> dials, Func<NodeId, bool> allows, ILogger logger)
{
    // Our dials waiting for the peer's incoming connection, by peer.
    private readonly ConcurrentDictionary<NodeId, PendingDial> _waiting = new();

    /// <summary>
    /// A dial request from <paramref name="dialer"/> while we are dialing it: true if ours wins, and the request is to
    /// be refused as crossed (ours wins while it is in progress, answered or not). If theirs wins and ours is still
    /// waiting for its answer, ours waits for their connection instead.
    /// </summary>
    public bool OursWins(NodeId dialer, DialRequest request)
    {
        var ours = dials.Values.Where(d => d.Peer == dialer).ToList();
        if (ours.Count == 0)
        {
            return false;
        }

        if (SortsFirst(self, dialer) && request.AcceptsReverse)
        {
            LogCrossedDial(logger, dialer, "ours");
            return true;
        }

        if (allows(dialer) && ours.FirstOrDefault(d => !d.Answer.Task.IsCompleted) is { } waiting)
        {
            LogCrossedDial(logger, dialer, "theirs");
            Mark(waiting);
        }

        return false;
    }

    /// <summary>Our dial will complete with the peer's incoming connection rather than one of its own.</summary>
    public void Mark(PendingDial dial)
    {
        dial.Crossed = true;
        _waiting[dial.Peer] = dial;
    }

    /// <summary>
    /// An incoming connection from <paramref name="peer"/>: true if it completed our crossed dial waiting for it
    /// (the connection is then that dial's, not the application's handler's).
    /// </summary>
    public bool TryHandOver(NodeId peer, QuicConnection connection) =>
        _waiting.TryRemove(peer, out var dial) && dial.Incoming.TrySetResult(connection);

    /// <summary>Our dial has ended: it no longer waits for the peer's connection.</summary>
    public void Forget(PendingDial dial) => _waiting.TryRemove(new KeyValuePair<NodeId, PendingDial>(dial.Peer, dial));

    private static bool SortsFirst(NodeId a, NodeId b) => a.Bytes.SequenceCompareTo(b.Bytes) < 0;

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Crossed dials with {Peer}: keeping {Which}")]
    private static partial void LogCrossedDial(ILogger logger, NodeId peer, string which);
}
