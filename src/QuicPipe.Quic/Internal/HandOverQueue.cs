using System.Collections.Concurrent;
using QuicPipe.Dataplane;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Copies of datagrams handed from any number of threads to one endpoint loop, at most <c>capacity</c> at a time. The
/// copies live in buffers the queue keeps for reuse (no more than it has held at once), not in buffers of the shared
/// pool: those would be rented on the delivering thread and returned on the loop's, which the pool's per-thread
/// caches answer with a fresh array every few datagrams.
/// </summary>
internal sealed class HandOverQueue(int capacity)
{
    // Datagrams up to this size are copied into reused buffers; a larger one (no carrier here sends one) gets its own.
    private const int BufferSize = 2048;

    private readonly ConcurrentQueue<Datagram> _queue = new();
    private readonly ConcurrentQueue<byte[]> _spareBuffers = new();
    private int _count;

    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Queues a copy of <paramref name="datagram"/>; false when <c>capacity</c> datagrams wait already.</summary>
    public bool TryEnqueue(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        var buffer = datagram.Length > BufferSize ? new byte[datagram.Length] : _spareBuffers.TryDequeue(out var spare) ? spare : new byte[BufferSize];
        datagram.CopyTo(buffer);
        _queue.Enqueue(new Datagram(buffer, datagram.Length, source));
        return true;
    }

    /// <summary>Moves the oldest datagrams into <paramref name="batch"/> while it has room; an empty one, or one larger than its slots, is dropped.</summary>
    public void DrainInto(PacketBatch batch, DataplaneCounters counters)
    {
        while (batch.Count < batch.Capacity && _queue.TryDequeue(out var datagram))
        {
            Interlocked.Decrement(ref _count);
            if (datagram.Length > 0 && datagram.Length <= batch.SlotSize)
            {
                batch.Add(datagram.Buffer.AsSpan(0, datagram.Length), datagram.Source);
                counters.Received++;
                counters.ReceivedBytes += datagram.Length;
            }

            if (datagram.Buffer.Length == BufferSize)
            {
                _spareBuffers.Enqueue(datagram.Buffer);
            }
        }
    }

    /// <summary>Drops whatever waits, and the spare buffers.</summary>
    public void Clear()
    {
        _queue.Clear();
        _spareBuffers.Clear();
    }

    private readonly record struct Datagram(byte[] Buffer, int Length, PeerAddress Source);
}
