using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// One QUIC connection per peer, dialed on first use and shared by every tunnel to that peer (a tunnel is a stream,
/// so a thousand proxied connections to one peer cost one handshake). Concurrent first uses share one dial. A dial
/// that failed, or a connection that has closed, is replaced by a new dial on the next use: nothing is retried in
/// the background, so a peer nobody asks for is never dialed.
/// </summary>
internal sealed class PeerConnectionCache(Func<NodeId, CancellationToken, Task<QuicConnection>> dial, CancellationToken lifetime)
{
    // Guards _connections; held only to look up or replace an entry, never across a dial.
    private readonly Lock _lock = new();

    // The current dial (or its connection) per peer.
    private readonly Dictionary<NodeId, Task<QuicConnection>> _connections = [];

    public Task<QuicConnection> GetAsync(NodeId peer)
    {
        lock (_lock)
        {
            if (_connections.TryGetValue(peer, out var current) && IsUsable(current))
            {
                return current;
            }

            var dialing = DialAsync(peer);
            _connections[peer] = dialing;

            // Entries go when they can no longer serve, so that asking for many peers (say, random NodeIds that
            // all fail) does not grow the table.
            _ = dialing.ContinueWith(ForgetWhenDone, (this, peer), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return dialing;
        }
    }

    /// <summary>Peers with a dial in progress or a live connection.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>The connections that were established (for closing them at the end).</summary>
    public IReadOnlyList<QuicConnection> Established()
    {
        lock (_lock)
        {
            return [.. _connections.Values.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result)];
        }
    }

    private static void ForgetWhenDone(Task<QuicConnection> dialing, object? state)
    {
        var (cache, peer) = ((PeerConnectionCache, NodeId))state!;
        if (!dialing.IsCompletedSuccessfully)
        {
            cache.Forget(peer, dialing);
            return;
        }

        _ = dialing.Result.Closed.ContinueWith(_ => cache.Forget(peer, dialing), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Forget(NodeId peer, Task<QuicConnection> entry)
    {
        lock (_lock)
        {
            // Only this entry: a newer dial for the same peer may have replaced it already.
            if (_connections.TryGetValue(peer, out var current) && current == entry)
            {
                _connections.Remove(peer);
            }
        }
    }

    private static bool IsUsable(Task<QuicConnection> entry) =>
        !entry.IsCompleted || (entry.IsCompletedSuccessfully && !entry.Result.Closed.IsCompleted);

    private async Task<QuicConnection> DialAsync(NodeId peer)
    {
        // Leaves the lock before the dial function runs.
        await Task.Yield();
        return await dial(peer, lifetime).ConfigureAwait(false);
    }
}
