namespace QuicPipe.Dataplane;

/// <summary>
/// A bounded queue of packets in fixed slots, for handing packets from one thread to another without an allocation
/// per packet: copied in by a producer on any thread, drained in order by the consumer. A full queue refuses, and the
/// producer counts the drop, which is what an unreliable packet may suffer anyway. Producers and the consumer share a
/// lock, held for a copy per packet.
/// </summary>
public sealed class PacketQueue
{
    private readonly Lock _lock = new();
    private readonly byte[] _slots;
    private readonly int[] _lengths;
    private int _head;
    private int _count;

    /// <param name="capacity">Packets held at most.</param>
    /// <param name="slotSize">Largest packet held.</param>
    public PacketQueue(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slotSize);
        _slots = new byte[checked(capacity * slotSize)];
        _lengths = new int[capacity];
        SlotSize = slotSize;
    }

    public int Capacity => _lengths.Length;

    /// <summary>Packets queued now; a snapshot, for a producer deciding whether to wait.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Largest packet the queue holds.</summary>
    public int SlotSize { get; }

    /// <summary>Copies <paramref name="packet"/> in; false when the queue is full or the packet larger than a slot.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> packet)
    {
        lock (_lock)
        {
            if (_count == _lengths.Length || packet.Length > SlotSize)
            {
                return false;
            }

            var index = (_head + _count) % _lengths.Length;
            packet.CopyTo(_slots.AsSpan(index * SlotSize, SlotSize));
            _lengths[index] = packet.Length;
            _count++;
            return true;
        }
    }

    /// <summary>Hands every queued packet to <paramref name="consume"/>, oldest first, emptying the queue; returns how many.</summary>
    public int Drain<TState>(TState state, PacketConsumer<TState> consume) => Drain(state, consume, int.MaxValue);

    /// <summary>Hands the oldest <paramref name="max"/> queued packets (or all, if fewer) to <paramref name="consume"/>; returns how many.</summary>
    public int Drain<TState>(TState state, PacketConsumer<TState> consume, int max)
    {
        ArgumentNullException.ThrowIfNull(consume);
        lock (_lock)
        {
            var drained = Math.Min(_count, Math.Max(max, 0));
            for (var i = 0; i < drained; i++, _count--)
            {
                consume(state, _slots.AsSpan(_head * SlotSize, _lengths[_head]));
                _head = (_head + 1) % _lengths.Length;
            }

            return drained;
        }
    }

    /// <summary>Forgets what is queued; returns how many packets that was.</summary>
    public int Clear()
    {
        lock (_lock)
        {
            var dropped = _count;
            _count = 0;
            return dropped;
        }
    }
}

/// <summary>Takes one packet from a <see cref="PacketQueue"/>; the span is valid only during the call.</summary>
public delegate void PacketConsumer<in TState>(TState state, ReadOnlySpan<byte> packet);
