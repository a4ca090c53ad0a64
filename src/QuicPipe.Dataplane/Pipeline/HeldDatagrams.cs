namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// The datagrams an impairment stage holds back, oldest first, copied out of their batch so the batch can be
/// reused. The store is itself a <see cref="PacketBatch"/>, allocated once, on first use, with the slot size of
/// the batches it serves: holding and releasing allocate nothing.
/// </summary>
internal sealed class HeldDatagrams(int capacity)
{
    private PacketBatch? _store;

    public int Count => _store?.Count ?? 0;

    /// <summary>Copies slot <paramref name="index"/> of <paramref name="batch"/> in; false (nothing held) when full or too long.</summary>
    public bool TryHold(PacketBatch batch, int index)
    {
        _store ??= new PacketBatch(capacity, batch.SlotSize);
        if (_store.Count == _store.Capacity || batch.Lengths[index] > _store.SlotSize)
        {
            return false;
        }

        batch.CopySlotTo(index, _store, _store.Count);
        _store.Count++;
        return true;
    }

    /// <summary>
    /// Appends up to <paramref name="count"/> of the oldest held datagrams to the end of <paramref name="batch"/>,
    /// as many as it has room for; the rest stay held, still oldest first. Returns how many it released.
    /// </summary>
    public int ReleaseInto(PacketBatch batch, int count)
    {
        if (_store is null)
        {
            return 0;
        }

        var released = Math.Min(Math.Min(count, _store.Count), batch.Capacity - batch.Count);
        for (var i = 0; i < released; i++)
        {
            _store.CopySlotTo(i, batch, batch.Count);
            batch.Count++;
        }

        for (var i = released; i < _store.Count; i++)
        {
            _store.CopySlotTo(i, _store, i - released);
        }

        _store.Count -= released;
        return released;
    }
}
