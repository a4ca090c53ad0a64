using QuicPipe.Dataplane;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// The initial DCIDs this peer handed to dialers, each with the NodeId it was handed to: the QUIC engine pins an
/// incoming connection to that NodeId, and refuses a connection whose CID is not here. Entries are used once
/// and expire; the table is bounded (the oldest entry goes first).
/// </summary>
internal sealed class IncomingDialTable(int capacity, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ConnectionId, (NodeId Dialer, long ExpiresAt)> _entries = [];
    private readonly Queue<ConnectionId> _order = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public void Add(ConnectionId cid, NodeId dialer, TimeSpan lifetime)
    {
        lock (_lock)
        {
            // The queue also holds CIDs already taken (CIDs are never reused, so removing one again is a no-op):
            // bounding the queue bounds both.
            while (_order.Count >= capacity && _order.TryDequeue(out var oldest))
            {
                _entries.Remove(oldest);
            }

            _entries[cid] = (dialer, time.GetTimestamp() + (long)(lifetime.TotalSeconds * time.TimestampFrequency));
            _order.Enqueue(cid);
        }
    }

    /// <summary>The dialer <paramref name="cid"/> was issued to, removing the entry; null if unknown or expired.</summary>
    public NodeId? Take(ConnectionId cid)
    {
        lock (_lock)
        {
            if (!_entries.Remove(cid, out var entry))
            {
                return null;
            }

            return time.GetTimestamp() < entry.ExpiresAt ? entry.Dialer : null;
        }
    }
}
