using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// Moves the connections we dialed off a relay that was lost onto another of our relays the peer is registered at
/// too, as a migration of the same QUIC connection (the dialer's to make, as with a fallback from a direct path): we
/// register the same CIDs at every relay, and so does the peer, so the connection's packets are routable at each relay
/// both ends are registered with. Which one the peer is at, the relay says (<see cref="RelaySession.KnowsAsync"/>).
/// A connection on a direct path only changes the relay it falls back to. With no other relay, nothing moves: the
/// connection waits for the lost relay to come back, as with a single relay.
/// </summary>
/// <param name="relays">The endpoint's relay sessions, in the order to try them.</param>
/// <param name="stopping">Fires when the endpoint stops: moves in progress end.</param>
/// <param name="logger">The endpoint's logger.</param>
internal sealed partial class RelayFailover(IReadOnlyList<RelaySession> relays, CancellationToken stopping, ILogger logger)
{
    // How long a relay may take to say whether it knows the peer: a relay slower than this is passed over.
    private static readonly TimeSpan AskLimit = TimeSpan.FromSeconds(2);

    private readonly List<Task> _moves = [];

    /// <summary>
    /// <paramref name="lost"/> was lost: when open connections went through it (either way), registers again at the
    /// other relays first, so that they route the CIDs those connections use now (the peer at the other end does the
    /// same as it loses the relay too); then moves, in the background, each connection we dialed.
    /// </summary>
    public void MoveOff(RelaySession lost, IEnumerable<PeerPath> paths)
    {
        var affected = paths.Where(p => !p.Connection.Closed.IsCompleted && p.Relay.Equals(lost.EndPoint)).ToList();
        if (affected.Count == 0)
        {
            return;
        }

        var refreshed = relays.Where(r => r != lost && r.Control is not null).ToDictionary(r => r, r => r.RefreshNowAsync());
        foreach (var path in affected)
        {
            if (path.Connection.IsServer || path.Connection.RemoteNodeId is not { } peer)
            {
                continue; // the dialer moves it; we follow
            }

            lock (_moves)
            {
                _moves.RemoveAll(t => t.IsCompleted);
                _moves.Add(MoveAsync(path, peer, lost.EndPoint, refreshed));
            }
        }
    }

    /// <summary>Waits for the moves in progress to end (after stopping fired).</summary>
    public async Task StopAsync()
    {
        Task[] moves;
        lock (_moves)
        {
            moves = [.. _moves];
        }

        await Task.WhenAll(moves).ConfigureAwait(false);
    }

    private async Task MoveAsync(PeerPath path, NodeId peer, IPEndPoint lost, Dictionary<RelaySession, Task> refreshed)
    {
        var connection = path.Connection;
        try
        {
            foreach (var relay in relays)
            {
                if (relay.EndPoint.Equals(lost) || !await KnowsAsync(relay, peer).ConfigureAwait(false))
                {
                    continue;
                }

                if (refreshed.TryGetValue(relay, out var refresh))
                {
                    await Task.WhenAny(refresh, Task.Delay(AskLimit, stopping)).ConfigureAwait(false);
                }

                path.UseRelay(relay.EndPoint);
                if (connection.RemoteEndPoint.Equals(lost))
                {
                    // Immediate, as a fallback from a dead direct path: the new relay answered us just now, while the
                    // congestion window is full of packets sent into the dead one that a validating move would wait behind.
                    await connection.MigrateAsync(relay.EndPoint, QuicMigrationMode.Immediate, stopping).ConfigureAwait(false);
                }

                LogMoved(logger, peer, lost, relay.EndPoint);
                return;
            }

            LogNoOtherRelay(logger, peer, lost);
        }
        catch (Exception e) when (e is QuicConnectionException or InvalidOperationException or ObjectDisposedException)
        {
            LogMoveFailed(logger, peer, lost, e.Message);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task<bool> KnowsAsync(RelaySession relay, NodeId peer)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        limit.CancelAfter(AskLimit);
        try
        {
            return await relay.KnowsAsync(peer, limit.Token).ConfigureAwait(false) == true;
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Relay {Lost} lost: the connection to {Peer} moves to relay {Relay}")]
    private static partial void LogMoved(ILogger logger, NodeId peer, IPEndPoint lost, IPEndPoint relay);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Relay {Lost} lost: no other relay of ours knows {Peer}; its connection waits for that relay to come back")]
    private static partial void LogNoOtherRelay(ILogger logger, NodeId peer, IPEndPoint lost);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "Relay {Lost} lost: moving the connection to {Peer} to another relay failed ({Reason})")]
    private static partial void LogMoveFailed(ILogger logger, NodeId peer, IPEndPoint lost, string reason);
}
