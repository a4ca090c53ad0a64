using System.Buffers;
using System.IO.Pipelines;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// The blocks behind one endpoint's stream pipes (received bytes waiting for the application, and what a stream
/// context's writer queued): fixed-size blocks that a pipe returns (Dispose) once its reader consumed them and
/// that the next rent reuses, so a bulk transfer allocates none once the pool holds its working set.
/// </summary>
/// <remarks>
/// The shared ArrayPool behind a default Pipe keeps a few dozen arrays per core: a backlog of a few hundred
/// kilobytes (a reader lagging a 16 MiB window) outgrows it, and every transfer then refills it by allocating.
/// This pool keeps up to <see cref="Capacity"/> free blocks and no more: a block returned to a full pool is left to
/// the GC, so a burst never pins memory for good. Blocks are rented on the loop thread (receive) or a writer's
/// thread and returned on the reader's, so one lock guards the free list; it is held for a push or a pop.
/// </remarks>
internal sealed class StreamBufferPool : MemoryPool<byte>
{
    /// <summary>Block size: 13 full-size packets, and a 16 KiB application write in one block.</summary>
    public const int BlockSize = 16 * 1024;

    private readonly object _lock = new();

    // Guarded by _lock: the free blocks, _free[0.._count).
    private readonly Block[] _free;
    private int _count;

    // Interlocked: rents served, and blocks created because the free list was empty.
    private long _rents;
    private long _created;

    public StreamBufferPool(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _free = new Block[capacity];
        OutputPipeOptions = new(this, minimumSegmentSize: BlockSize, useSynchronizationContext: false);
    }

    /// <summary>
    /// A stream's received bytes: no pause threshold, because the peer's flow-control window already bounds what
    /// can be buffered and the loop thread must never wait for a reader. One per stream, for its reader scheduler.
    /// </summary>
    public PipeOptions CreateInputPipeOptions(PipeScheduler readerScheduler) =>
        new(this, readerScheduler: readerScheduler, pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: BlockSize, useSynchronizationContext: false);

    /// <summary>A stream context's Transport.Output: the Pipe's default thresholds, so a writer waits for the send loop.</summary>
    public PipeOptions OutputPipeOptions { get; }

    public override int MaxBufferSize => BlockSize;

    /// <summary>Most free blocks kept for reuse.</summary>
    public int Capacity => _free.Length;

    /// <summary>Free blocks held now.</summary>
    public int Free
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Rents served since the pool was made.</summary>
    public long Rents => Interlocked.Read(ref _rents);

    /// <summary>Blocks created (a rent found no free block) since the pool was made.</summary>
    public long Created => Interlocked.Read(ref _created);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        Interlocked.Increment(ref _rents);
        lock (_lock)
        {
            if (_count > 0)
            {
                var block = _free[--_count];
                _free[_count] = null!;
                block.InPool = false;
                return block;
            }
        }

        Interlocked.Increment(ref _created);
        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        // Nothing native: free blocks are plain arrays, and blocks still rented go to the GC with their pipes.
    }

    private void Return(Block block)
    {
        lock (_lock)
        {
            // A second Dispose of the same block must not hand it out twice.
            if (block.InPool || _count == _free.Length)
            {
                return;
            }

            block.InPool = true;
            _free[_count++] = block;
        }
    }

    private sealed class Block(StreamBufferPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize);

        // Guarded by the pool's lock: whether the block sits in the free list.
        public bool InPool { get; set; }

        public Memory<byte> Memory => _array;

        public void Dispose() => pool.Return(this);
    }
}
