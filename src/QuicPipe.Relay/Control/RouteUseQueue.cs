using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Control;

/// <summary>
/// The bounded, lock-free queue between the forwarding stage (many producers, the receive loops) and the
/// registry (one consumer, under its lock): Vyukov's bounded MPMC ring, each slot carrying a sequence number
/// that says whether it is free or full. Allocation-free; a full queue drops the notice, which is harmless
/// because a CID in use is reported again on its next packet.
/// </summary>
internal sealed class RouteUseQueue : IRouteUseSink
{
    private readonly Slot[] _slots;
    private readonly long _mask;
    private long _enqueuePosition;
    private long _dequeuePosition;
    private long _dropped;

    public RouteUseQueue(int capacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity is a power of two, at least 2.");
        }

        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }

        _mask = capacity - 1;
    }

    /// <summary>Notices dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void OnRouteUsed(in ConnectionId cid)
    {
        var position = Volatile.Read(ref _enqueuePosition);
        while (true)
        {
            ref var slot = ref _slots[position & _mask];
            var difference = Volatile.Read(ref slot.Sequence) - position;
            if (difference == 0)
            {
                if (Interlocked.CompareExchange(ref _enqueuePosition, position + 1, position) == position)
                {
                    slot.Cid = cid;

                    // Release: the consumer that sees the new sequence sees the CID.
                    Volatile.Write(ref slot.Sequence, position + 1);
                    return;
                }

                position = Volatile.Read(ref _enqueuePosition);
            }
            else if (difference < 0)
            {
                // The slot still holds an entry from a lap ago: full.
                Interlocked.Increment(ref _dropped);
                return;
            }
            else
            {
                position = Volatile.Read(ref _enqueuePosition);
            }
        }
    }

    /// <summary>Takes the oldest notice. One consumer at a time (the registry calls it under its lock).</summary>
    public bool TryDequeue(out ConnectionId cid)
    {
        var position = _dequeuePosition;
        ref var slot = ref _slots[position & _mask];
        if (Volatile.Read(ref slot.Sequence) != position + 1)
        {
            cid = default;
            return false;
        }

        cid = slot.Cid;
        Volatile.Write(ref slot.Sequence, position + _mask + 1);
        _dequeuePosition = position + 1;
        return true;
    }

    private struct Slot
    {
        public long Sequence;
        public ConnectionId Cid;
    }
}
