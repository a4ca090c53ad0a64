namespace QuicPipe.Quic.Internal;

/// <summary>
/// The endpoint's connections by slot: the small integer a local <see cref="Dataplane.CidRoute"/> carries, so
/// that the pipeline's CID lookup names a connection without a second, per-packet lookup. Loop thread only.
/// </summary>
/// <remarks>
/// A released slot is empty at once but reused only after <see cref="RecycleReleased"/>, which the loop calls
/// between batches: a batch may still hold verdicts the lookup stage wrote for the old connection, and those
/// must find an empty slot (a miss, as the CID is gone), never a connection accepted later in the same batch.
/// </remarks>
internal sealed class ConnectionSlots
{
    private const int InitialCapacity = 16;

    private QuicConnection?[] _connections = new QuicConnection?[InitialCapacity];

    // Slots ready for Add, as a stack.
    private int[] _free = [.. Enumerable.Range(0, InitialCapacity).Reverse()];
    private int _freeCount = InitialCapacity;

    // Slots released since the last RecycleReleased.
    private int[] _released = new int[InitialCapacity];
    private int _releasedCount;

    /// <summary>The connection in <paramref name="slot"/>, or null if the slot is empty.</summary>
    public QuicConnection? this[int slot] => (uint)slot < (uint)_connections.Length ? _connections[slot] : null;

    /// <summary>Puts <paramref name="connection"/> in a free slot, growing the table if none is (connections are created rarely, so growth may allocate).</summary>
    public int Add(QuicConnection connection)
    {
        if (_freeCount == 0)
        {
            Grow();
        }

        var slot = _free[--_freeCount];
        _connections[slot] = connection;
        return slot;
    }

    /// <summary>Empties <paramref name="slot"/>; it becomes free at the next <see cref="RecycleReleased"/>.</summary>
    public void Release(int slot)
    {
        _connections[slot] = null;
        _released[_releasedCount++] = slot;
    }

    /// <summary>Makes the slots released so far free for <see cref="Add"/>. Call only when no batch is being routed.</summary>
    public void RecycleReleased()
    {
        for (var i = 0; i < _releasedCount; i++)
        {
            _free[_freeCount++] = _released[i];
        }

        _releasedCount = 0;
    }

    private void Grow()
    {
        var old = _connections.Length;
        var capacity = old * 2;
        Array.Resize(ref _connections, capacity);
        Array.Resize(ref _free, capacity);
        Array.Resize(ref _released, capacity);
        for (var slot = capacity - 1; slot >= old; slot--)
        {
            _free[_freeCount++] = slot;
        }
    }
}
