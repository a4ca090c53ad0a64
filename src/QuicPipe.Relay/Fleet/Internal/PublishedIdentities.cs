using QuicPipe.Quic;

namespace QuicPipe.Relay.Fleet.Internal;

/// <summary>
/// The identities a relay should have in the directory, and which of them differ from what the directory holds:
/// registrations mark a NodeId to put, their end one to delete; a reconnect marks all to put again. Bounded by the
/// registry's capacity (one entry per identity it serves). Thread-safe: the registry adds under its lock, the
/// publishing loop takes.
/// </summary>
internal sealed class PublishedIdentities
{
    private readonly Lock _lock = new();

    // NodeIds registered here now (what the directory should say).
    private readonly HashSet<NodeId> _wanted = [];

    // NodeIds whose key the directory may not match yet: put if wanted, deleted if not.
    private readonly HashSet<NodeId> _dirty = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _wanted.Count;
            }
        }
    }

    public bool HasChanges
    {
        get
        {
            lock (_lock)
            {
                return _dirty.Count > 0;
            }
        }
    }

    public void Add(NodeId node)
    {
        lock (_lock)
        {
            _wanted.Add(node);
            _dirty.Add(node);
        }
    }

    public void Remove(NodeId node)
    {
        lock (_lock)
        {
            _wanted.Remove(node);
            _dirty.Add(node);
        }
    }

    /// <summary>The directory lost what we wrote (a new lease) or may have: every wanted NodeId is to be put again.</summary>
    public void MarkAllDirty()
    {
        lock (_lock)
        {
            _dirty.UnionWith(_wanted);
        }
    }

    /// <summary>Takes up to <paramref name="max"/> pending changes: each NodeId with whether to put (true) or delete it.</summary>
    public List<(NodeId Node, bool Put)> TakeChanges(int max)
    {
        lock (_lock)
        {
            var changes = new List<(NodeId, bool)>(Math.Min(max, _dirty.Count));
            foreach (var node in _dirty)
            {
                if (changes.Count == max)
                {
                    break;
                }

                changes.Add((node, _wanted.Contains(node)));
            }

            foreach (var (node, _) in changes)
            {
                _dirty.Remove(node);
            }

            return changes;
        }
    }

    /// <summary>Changes that did not reach the directory: marked again (unless a newer change came meanwhile, which is marked already).</summary>
    public void Return(IEnumerable<(NodeId Node, bool Put)> changes)
    {
        lock (_lock)
        {
            foreach (var (node, _) in changes)
            {
                _dirty.Add(node);
            }
        }
    }
}
