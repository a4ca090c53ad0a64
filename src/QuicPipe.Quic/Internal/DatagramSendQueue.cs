namespace QuicPipe.Quic.Internal;

/// <summary>
/// DATAGRAMs queued by <see cref="QuicConnection.TrySendDatagram"/> from any thread, in fixed slots, until the
/// endpoint's loop hands them to the engine: the packet path's way in, with no allocation per datagram (the
/// <see cref="QuicConnection.SendDatagramAsync"/> path posts a closure and a task per call). Bounded: a full queue
/// refuses, and the caller counts the drop, which is what an unreliable datagram may suffer anyway.
/// </summary>
internal sealed class DatagramSendQueue
{
    /// <summary>Largest datagram a slot holds: above any single packet's payload on a 1500-byte path.</summary>
    public const int SlotSize = 1536;

    private readonly Lock _lock = new();
    private readonly byte[] _slots;
    private readonly int[] _lengths;
    private int _head;
    private int _count;

    public DatagramSendQueue(int capacity)
    {
        _slots = new byte[capacity * SlotSize];
        _lengths = new int[capacity];
    }

    public int Capacity => _lengths.Length;

    /// <summary>Copies <paramref name="datagram"/> in; false when the queue is full.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> datagram)
    {
        lock (_lock)
        {
            if (_count == _lengths.Length)
            {
                return false;
            }

            var index = (_head + _count) % _lengths.Length;
            datagram.CopyTo(_slots.AsSpan(index * SlotSize, SlotSize));
            _lengths[index] = datagram.Length;
            _count++;
            return true;
        }
    }

    /// <summary>Hands every queued datagram to <paramref name="send"/> in order (loop thread), emptying the queue.</summary>
    public void Drain<TState>(TState state, DatagramSink<TState> send)
    {
        lock (_lock)
        {
            for (; _count > 0; _count--)
            {
                send(state, _slots.AsSpan(_head * SlotSize, _lengths[_head]));
                _head = (_head + 1) % _lengths.Length;
            }
        }
    }

    /// <summary>Forgets what is queued (the connection ended).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _count = 0;
        }
    }

    public delegate void DatagramSink<in TState>(TState state, ReadOnlySpan<byte> datagram);
}
