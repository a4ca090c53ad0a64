using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using QuicPipe.Quic.Internal;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>
/// A bidirectional QUIC stream. Received bytes arrive on <see cref="Input"/> (completed at the peer's FIN, or
/// with an error on reset); <see cref="WriteAsync"/> queues bytes to send, <see cref="CompleteWritesAsync"/>
/// sends FIN. Flow control is backpressure both ways: the peer gets credit only for bytes the application has
/// consumed from <see cref="Input"/>, and a write waits while the stream holds
/// <see cref="QuicEndpointOptions.StreamSendBuffer"/> bytes the peer has not acknowledged.
/// </summary>
/// <remarks>
/// A write that fits in the room left is copied into the stream's staging ring and completes at once, on the
/// writer's thread: in a bulk transfer the writer then runs on through many writes per wake-up instead of waiting
/// for the loop thread after each one (each wait was a thread-pool hand-over both ways). A write that does not fit
/// waits as before, and completes once the bytes queued have fallen to half the send buffer, so that the writer
/// wakes to room for a run of writes rather than for one.
/// </remarks>
public sealed class QuicStream
{
    private readonly QuicConnection _connection;

    // Blocks from the endpoint's stream pool; no pause threshold (StreamBufferPool.CreateInputPipeOptions).
    private readonly Pipe _input;
    private readonly CreditReturningPipeReader _reader;

    // Loop thread only: writes waiting for room in the send buffer, oldest first.
    private readonly Queue<PendingStreamWrite> _writes = new();

    // Writers' threads to the loop thread: submitted writes, each followed by one post of _acceptSubmittedWrite.
    private readonly ConcurrentQueue<PendingStreamWrite> _submitted = new();
    private readonly Action _acceptSubmittedWrite;

    // The write a writer takes for its next WriteAsync (null while one is in use), given back when awaited.
    private PendingStreamWrite? _spareWrite;

    // Submitted writes that wait for the loop thread (not yet completed): while there is one, later writes queue
    // behind it rather than take the staging ring, so bytes keep their order.
    private int _waitingWrites;

    // The staging ring of writes that completed at once (from ArrayPool, rented by a write that finds none, given
    // back once drained, so that an idle stream holds none): the writer copies in at _ringTail, the loop thread moves
    // bytes from _ringHead into the shim's send buffer. Single producer (one writer at a time, as for any stream
    // writer), single consumer (the loop thread); both positions count from the stream's start, whatever the ring.
    private byte[]? _ring;
    private long _ringTail;
    private long _ringHead;

    // Set once nothing may be staged any more (FIN submitted, or the write side failed): later writes take the
    // waiting path, which reports the failure. _ringState guards the ring's return to the pool against a writer
    // copying into it at that moment.
    private volatile bool _stagingClosed;
    private int _ringState;
    private const int RingIdle = 0;
    private const int RingBusy = 1;
    private const int RingReturned = 2;

    // Loop thread writes, writers read: the shim's unacknowledged bytes as of the last drain, which with the staged
    // bytes tells a writer whether its write fits.
    private long _unackedSnapshot;

    // 1 from a staged write's post of _drainStaged until the loop thread runs it: one post carries a run of writes.
    private int _drainPosted;
    private readonly Action _drainStaged;

    // Loop thread only: whether the input side has been completed (FIN, reset or connection end), and the bytes
    // received into the pipe so far.
    private bool _inputCompleted;

    // Loop thread only: OnData buffered bytes that PublishInput has not yet flushed to the reader.
    private bool _publishPending;

    private readonly StreamReaderScheduler _readerScheduler = new();
    private long _received;

    // Reader's thread (Interlocked): bytes the application has consumed; credit not yet handed to the loop.
    private long _consumed;
    private long _pendingCredit;

    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Loop thread only: set once the application completed Input; bytes arriving later are credited at once.
    private bool _readerCompleted;

    // Loop thread only: for a peer-initiated stream, whether the application accepted it and ngtcp2 closed it;
    // once both are true the peer gets its stream slot back.
    private bool _accepted;
    private bool _transportClosed;

    // Loop thread only: why writes fail from now on (aborted by either side, or the stream is closed).
    private Exception? _writeError;

    // Loop thread only: the socket whose bytes this stream sends (TryFeedFrom), until it ends. _feedStarted is set on
    // the caller's thread, so that a write after TryFeedFrom fails at once.
    private QuicSocketFeed? _feed;
    private volatile bool _feedStarted;

    // Posted each time consumed bytes start a new hand-over: one delegate per stream, not one per read.
    private readonly Action _returnPendingCredit;

    internal QuicStream(QuicConnection connection, long id)
    {
        _connection = connection;
        Id = id;
        _input = new Pipe(connection.StreamBuffers.CreateInputPipeOptions(_readerScheduler));
        _reader = new CreditReturningPipeReader(_input.Reader, this);
        _returnPendingCredit = ReturnPendingCredit;
        _acceptSubmittedWrite = AcceptSubmittedWrite;
        _drainStaged = DrainStaged;
        _spareWrite = new PendingStreamWrite(this);
    }

    /// <summary>The connection this stream belongs to.</summary>
    public QuicConnection Connection => _connection;

    /// <summary>The QUIC stream ID (RFC 9000 §2.1).</summary>
    public long Id { get; }

    /// <summary>The bytes the peer sends, in order. Consuming them (AdvanceTo) is what lets the peer send more.</summary>
    public PipeReader Input => _reader;

    /// <summary>
    /// When true, a read of <see cref="Input"/> that waits for bytes continues on the endpoint's loop thread as soon as
    /// a received batch brings them, instead of on the thread pool: one thread hand-over less per batch, which in a
    /// bulk transfer is a good part of the receiving side's work. Unsafe because while that continuation runs, every
    /// connection of the endpoint waits: only for a reader that never blocks and does little before its next read
    /// (the tunnels set it: they hand the bytes to a socket's non-blocking send). Default false.
    /// </summary>
    public bool UnsafePreferInlineReads
    {
        get => _readerScheduler.PreferInline;
        set => _readerScheduler.PreferInline = value;
    }

    /// <summary>
    /// Completes once the stream is closed in both directions: everything we sent was acknowledged and the peer's
    /// FIN arrived (or a side reset it and the reset was acknowledged). Fails when the connection ends first. A
    /// side that waits for this before
    /// closing the connection cannot cut off data still in flight.
    /// </summary>
    public Task Completed => _completed.Task;

    /// <summary>Most bytes ever held in <see cref="Input"/> unconsumed (loop thread; for tests and diagnostics).</summary>
    internal long MaxBufferedBytes { get; private set; }

    /// <summary>Whether the stream holds a staging ring now (any thread; for tests: a drained stream gives it back).</summary>
    internal bool HoldsStagingRing => Volatile.Read(ref _ring) is not null;

    /// <summary>Most bytes ever queued unacknowledged on the send side (loop thread; for tests and diagnostics).</summary>
    internal ulong MaxUnackedBytes { get; private set; }

    /// <summary>
    /// Queues <paramref name="data"/> and, with <paramref name="endStream"/>, the FIN after it. Completes once all
    /// of it is in the stream's send buffer (at once when it fits: then it is copied), which waits while the buffer
    /// is full; do not change <paramref name="data"/> before then. Cancelling may leave a prefix of the data queued. Await the result
    /// once (it is a <see cref="ValueTask"/>: one write object per stream is reused, so writing allocates nothing).
    /// </summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, bool endStream = false, CancellationToken cancellationToken = default) =>
        Submit(data, endStream, cancellationToken);

    /// <summary>Sends FIN: the peer reads to the end of the stream.</summary>
    public ValueTask CompleteWritesAsync(CancellationToken cancellationToken = default) =>
        Submit(ReadOnlyMemory<byte>.Empty, fin: true, cancellationToken);

    /// <summary>
    /// Sends what arrives on <paramref name="socket"/>, a connected stream socket, and at its end of stream ends this
    /// stream's writes (FIN). The endpoint's loop thread reads the socket itself, as soon as the kernel has bytes and as
    /// far as the send buffer has room: no thread hand-over between the socket and the packets, which is most of what
    /// a small request costs on its way through a tunnel. Null when this stream's endpoint does not receive on a socket
    /// of its own (<see cref="QuicSharedSocket"/>, <see cref="QuicVirtualSocket"/>) or the platform is not x86-64 Linux:
    /// copy with <see cref="WriteAsync"/> then. Once it has started nothing else may write to the stream, and the
    /// socket must stay open until the feed's <see cref="QuicSocketFeed.Completion"/> completes (stop it first with
    /// <see cref="QuicSocketFeed.Stop"/>). Bytes written before it are sent before the socket's.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="socket"/> is not a stream socket.</exception>
    /// <exception cref="InvalidOperationException">A feed was started on this stream before.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="socket"/> is closed.</exception>
    public QuicSocketFeed? TryFeedFrom(System.Net.Sockets.Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.SocketType != System.Net.Sockets.SocketType.Stream)
        {
            throw new ArgumentException($"A feed reads a stream socket, not a {socket.SocketType} one.", nameof(socket));
        }

        if (!_connection.Endpoint.CanWatchSockets)
        {
            return null;
        }

        if (_feedStarted)
        {
            throw new InvalidOperationException($"Stream {Id} already has a socket feed.");
        }

        var feed = new QuicSocketFeed(this, socket);
        _feedStarted = true;
        try
        {
            _connection.PostOrThrow(() => StartFeed(feed));
        }
        catch (ObjectDisposedException)
        {
            feed.End(QuicSocketFeedEnd.StreamFailed);
        }

        return feed;
    }

    /// <summary>Loop thread: watches the feed's socket and reads what it already holds.</summary>
    private void StartFeed(QuicSocketFeed feed)
    {
        if (_writeError is not null || _stagingClosed || _connection.IsTerminated)
        {
            feed.End(QuicSocketFeedEnd.StreamFailed);
            return;
        }

        _connection.Endpoint.Watch(feed);
        _feed = feed;
        feed.Readable = true;
        _connection.DrainWrites(this);
    }

    /// <summary>Loop thread (or no loop any more): the feed ended; at the socket's end the stream's writes ended too.</summary>
    internal void OnFeedEnded(QuicSocketFeed feed, QuicSocketFeedEnd end)
    {
        if (ReferenceEquals(_feed, feed))
        {
            _feed = null;
        }

        if (end == QuicSocketFeedEnd.SocketEnded)
        {
            CloseStaging();
        }
    }

    /// <summary>
    /// Aborts reading (the peer gets STOP_SENDING), sending (the peer gets RESET_STREAM; queued data is dropped) or
    /// both, with an application error code. Locally, <see cref="Input"/> and waiting or later writes end with a
    /// <see cref="QuicStreamAbortedException"/>.
    /// </summary>
    public Task AbortAsync(long errorCode, QuicAbortDirection direction = QuicAbortDirection.Both, CancellationToken cancellationToken = default) =>
        _connection.AbortStreamAsync(this, errorCode, direction, cancellationToken);

    // ---- stream slot (loop thread) ----

    internal void OnAccepted()
    {
        _accepted = true;
        if (_transportClosed)
        {
            _connection.ReturnStreamSlot(Id);
        }
    }

    /// <summary>The connection ended before the stream closed.</summary>
    internal void FailCompletion(Exception error) => _completed.TrySetException(error);

    internal void OnTransportClosed()
    {
        _transportClosed = true;
        _completed.TrySetResult();
        if (_accepted)
        {
            _connection.ReturnStreamSlot(Id);
        }
    }

    // ---- receive side ----

    /// <summary>Loop thread, inside the shim's data callback.</summary>
    internal void OnData(ReadOnlySpan<byte> data, bool fin)
    {
        if (_inputCompleted || _readerCompleted)
        {
            // Nobody will read these bytes: their credit goes straight back.
            _connection.ExtendCredit(Id, data.Length);
        }
        else if (!data.IsEmpty)
        {
            _input.Writer.Write(data);
            _received += data.Length;
            MaxBufferedBytes = Math.Max(MaxBufferedBytes, _received - Interlocked.Read(ref _consumed));
            if (!_publishPending)
            {
                _publishPending = true;
                _connection.PublishAfterBatch(this);
            }
        }

        if (fin)
        {
            CompleteInput(null);
        }
    }

    /// <summary>Loop thread, after the received batch: lets the reader see the bytes OnData buffered.</summary>
    internal void PublishInput()
    {
        _publishPending = false;
        if (_inputCompleted)
        {
            // Completing the writer published them already (or an error discarded them).
            return;
        }

        // Never waits (no pause threshold), so the loop thread is never blocked by a slow reader (unless the reader
        // asked to run inline, see UnsafePreferInlineReads).
        _readerScheduler.Publishing = true;
        try
        {
            var flush = _input.Writer.FlushAsync();
            if (flush.IsCompleted)
            {
                flush.GetAwaiter().GetResult();
            }
            else
            {
                _ = flush.AsTask();
            }
        }
        finally
        {
            _readerScheduler.Publishing = false;
        }
    }

    /// <summary>The application consumed <paramref name="bytes"/> (reader's thread): return them as credit.</summary>
    internal void OnConsumed(long bytes)
    {
        Interlocked.Add(ref _consumed, bytes);

        // One posted hand-over carries all credit gathered until it runs.
        if (Interlocked.Add(ref _pendingCredit, bytes) == bytes)
        {
            _connection.Post(_returnPendingCredit);
        }
    }

    /// <summary>The application completed <see cref="Input"/>: what it left unread is credit too.</summary>
    internal void OnReaderCompleted() => _connection.Post(ReleaseUnreadCredit);

    internal void CompleteInput(Exception? error)
    {
        if (_inputCompleted)
        {
            return;
        }

        _inputCompleted = true;
        _input.Writer.Complete(error);
        if (error is not null)
        {
            // An error ends the reader's next read at once, buffered bytes or not: they will never be consumed.
            ReleaseUnreadCredit();
        }
    }

    /// <summary>Loop thread: nobody will read on, so what is buffered unread (and anything later) is credit now.</summary>
    private void ReleaseUnreadCredit()
    {
        if (_readerCompleted)
        {
            return;
        }

        _readerCompleted = true;
        _connection.ExtendCredit(Id, _received - Interlocked.Read(ref _consumed));
    }

    private void ReturnPendingCredit() => _connection.ExtendCredit(Id, Interlocked.Exchange(ref _pendingCredit, 0));

    // ---- send side ----

    private ValueTask Submit(ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        if (_feedStarted)
        {
            return ValueTask.FromException(new InvalidOperationException($"A socket feeds stream {Id} (TryFeedFrom): it takes no other writes."));
        }

        var lackedRoom = false;
        if (fin)
        {
            _stagingClosed = true;
        }
        else if (!data.IsEmpty && !cancellationToken.IsCancellationRequested && TryStage(data.Span, out lackedRoom))
        {
            // One post drains every write staged until the loop thread runs it.
            if (Interlocked.Exchange(ref _drainPosted, 1) == 0)
            {
                try
                {
                    _connection.PostOrThrow(_drainStaged);
                }
                catch (ObjectDisposedException e)
                {
                    return ValueTask.FromException(e);
                }
            }

            return ValueTask.CompletedTask;
        }

        var write = Interlocked.Exchange(ref _spareWrite, null) ?? new PendingStreamWrite(this);
        Interlocked.Increment(ref _waitingWrites);

        // A write the ring could take but for the room left waits for half the send buffer (see remarks).
        var completesAtHalf = lackedRoom && data.Length <= RingCapacity(_connection.StreamSendBuffer) / 2;
        var pending = write.Start(data, fin, completesAtHalf, cancellationToken);
        _submitted.Enqueue(write);
        try
        {
            _connection.PostOrThrow(_acceptSubmittedWrite);
        }
        catch (ObjectDisposedException e)
        {
            write.Abandon(e);
        }

        return pending;
    }

    /// <summary>A write was awaited after the loop thread completed it: the next one reuses it.</summary>
    internal void ReturnWrite(PendingStreamWrite write) => Volatile.Write(ref _spareWrite, write);

    /// <summary>A waiting write completed (any thread): writes may take the ring again once none waits.</summary>
    internal void OnWaitingWriteCompleted() => Interlocked.Decrement(ref _waitingWrites);

    /// <summary>
    /// Writer's thread: copies <paramref name="data"/> into the staging ring if nothing waits before it and the
    /// staged and unacknowledged bytes leave room for it in the send buffer (and the ring). False when it must wait;
    /// <paramref name="lackedRoom"/> says whether for room, rather than for a write before it or the end of writes.
    /// </summary>
    private bool TryStage(ReadOnlySpan<byte> data, out bool lackedRoom)
    {
        lackedRoom = false;
        if (_stagingClosed || Volatile.Read(ref _waitingWrites) != 0 || !TryTakeRing())
        {
            return false;
        }

        try
        {
            var sendBuffer = _connection.StreamSendBuffer;
            var capacity = RingCapacity(sendBuffer);
            var tail = _ringTail;
            var staged = tail - Volatile.Read(ref _ringHead);
            if (staged + data.Length > capacity || staged + Volatile.Read(ref _unackedSnapshot) + data.Length > sendBuffer)
            {
                lackedRoom = true;
                return false;
            }

            // At least capacity bytes (the pool rounds up).
            var ring = _ring ??= ArrayPool<byte>.Shared.Rent(capacity);
            var at = (int)(tail % ring.Length);
            var first = Math.Min(data.Length, ring.Length - at);
            data[..first].CopyTo(ring.AsSpan(at));
            data[first..].CopyTo(ring);

            // Published after the copy: the loop thread reads up to the tail it sees.
            Volatile.Write(ref _ringTail, tail + data.Length);
            return true;
        }
        finally
        {
            Volatile.Write(ref _ringState, RingIdle);
        }
    }

    /// <summary>
    /// Writer's thread: takes the ring for a copy. The loop thread holds it only for a few instructions (to give a
    /// drained ring back), so a writer that finds it busy spins rather than take the waiting path and its hand-over.
    /// </summary>
    private bool TryTakeRing()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            var state = Interlocked.CompareExchange(ref _ringState, RingBusy, RingIdle);
            if (state == RingIdle)
            {
                return true;
            }

            if (state == RingReturned || spinner.NextSpinWillYield)
            {
                return false;
            }

            spinner.SpinOnce();
        }
    }

    /// <summary>Largest staging ring: a run of writes of up to 256 KiB per wake-up; more buys nothing measurable.</summary>
    private const int MaxRingSize = 256 * 1024;

    private static int RingCapacity(int sendBuffer) => Math.Min(sendBuffer, MaxRingSize);

    /// <summary>Loop thread: moves what writers staged into the send buffer.</summary>
    private void DrainStaged()
    {
        // First, so that a write staged from here on posts again.
        Interlocked.Exchange(ref _drainPosted, 0);
        _connection.DrainWrites(this);
    }

    /// <summary>Loop thread: nothing may be staged any more; the ring goes back to the pool unless a writer is in it right now.</summary>
    private void CloseStaging()
    {
        _stagingClosed = true;
        if (Interlocked.CompareExchange(ref _ringState, RingReturned, RingIdle) == RingIdle && _ring is { } ring)
        {
            _ring = null;
            ArrayPool<byte>.Shared.Return(ring);
        }
    }

    /// <summary>Loop thread: takes the oldest submitted write (one per post, so writes keep their order among commands).</summary>
    private void AcceptSubmittedWrite()
    {
        if (_submitted.TryDequeue(out var write))
        {
            _connection.AcceptWrite(this, write);
        }
    }

    internal void EnqueueWrite(PendingStreamWrite write)
    {
        if (_writeError is not null)
        {
            write.Fail(_writeError);
            return;
        }

        _writes.Enqueue(write);
    }

    /// <summary>The write side ended (abort by either side, or close): waiting and later writes fail with <paramref name="error"/>.</summary>
    internal void EndWrites(Exception error)
    {
        _writeError ??= error;
        FailWrites(_writeError);
    }

    /// <summary>
    /// Moves staged bytes, then queued writes, into the shim while the unacknowledged bytes stay within
    /// <paramref name="sendBuffer"/>. Returns true while bytes or writes are left waiting for acknowledgements.
    /// </summary>
    internal unsafe bool DrainWrites(SafeQuicConnectionHandle handle, int sendBuffer)
    {
        var unacked = QuicShim.ConnStreamUnacked(handle, Id);
        try
        {
            if (!DrainRing(handle, sendBuffer, ref unacked))
            {
                return Volatile.Read(ref _ringTail) != _ringHead && _writeError is null;
            }

            while (_writes.TryPeek(out var write))
            {
                if (write.IsCompleted)
                {
                    // Cancelled while waiting.
                    _writes.Dequeue();
                    continue;
                }

                var remaining = write.Data.Length - write.Offset;
                var room = unacked < (ulong)sendBuffer ? (int)((ulong)sendBuffer - unacked) : 0;
                var length = Math.Min(room, remaining);
                if (length == 0 && remaining > 0)
                {
                    return true;
                }

                var last = length == remaining;
                if (length > 0 || (last && write.Fin))
                {
                    int rv;
                    fixed (byte* p = write.Data.Span.Slice(write.Offset, length))
                    {
                        rv = QuicShim.ConnStreamWrite(handle, Id, p, (nuint)length, last && write.Fin ? 1 : 0);
                    }

                    if (rv != 0)
                    {
                        FailWrites(new QuicConnectionException($"Cannot write to stream {Id}: {QuicShim.Describe(rv)}") { NativeError = rv });
                        return false;
                    }

                    write.Offset += length;
                    unacked += (ulong)length;
                    MaxUnackedBytes = Math.Max(MaxUnackedBytes, unacked);
                }

                if (!last)
                {
                    return true;
                }

                if (write.CompletesAtHalf && unacked > (ulong)sendBuffer / 2)
                {
                    // All of it is in the send buffer; the writer wakes once half of that is acknowledged.
                    return true;
                }

                _writes.Dequeue();
                if (write.Fin)
                {
                    CloseStaging();
                }

                write.Succeed();
            }

            // The feed goes after every write: those were all queued before it started.
            if (_feed is { } feed && feed.Readable)
            {
                var waiting = feed.Drain(handle, sendBuffer, ref unacked, _connection.Endpoint.FeedScratch);
                MaxUnackedBytes = Math.Max(MaxUnackedBytes, unacked);
                return waiting;
            }

            return false;
        }
        finally
        {
            Volatile.Write(ref _unackedSnapshot, (long)unacked);
        }
    }

    /// <summary>Loop thread: moves staged bytes into the shim as far as the send buffer has room; false if some are left (or failed).</summary>
    private unsafe bool DrainRing(SafeQuicConnectionHandle handle, int sendBuffer, ref ulong unacked)
    {
        var head = _ringHead;
        var tail = Volatile.Read(ref _ringTail);
        if (head == tail)
        {
            return true;
        }

        if (_writeError is not null)
        {
            // The write side ended: staged bytes can never be sent.
            Volatile.Write(ref _ringHead, tail);
            CloseStaging();
            return false;
        }

        var ring = _ring!;
        while (head < tail)
        {
            var room = unacked < (ulong)sendBuffer ? (long)((ulong)sendBuffer - unacked) : 0;
            var at = (int)(head % ring.Length);
            var length = (int)Math.Min(Math.Min(tail - head, ring.Length - at), room);
            if (length == 0)
            {
                return false;
            }

            int rv;
            fixed (byte* p = &ring[at])
            {
                rv = QuicShim.ConnStreamWrite(handle, Id, p, (nuint)length, 0);
            }

            if (rv != 0)
            {
                Volatile.Write(ref _ringHead, tail);
                FailWrites(new QuicConnectionException($"Cannot write to stream {Id}: {QuicShim.Describe(rv)}") { NativeError = rv });
                return false;
            }

            head += length;
            unacked += (ulong)length;
            MaxUnackedBytes = Math.Max(MaxUnackedBytes, unacked);
            Volatile.Write(ref _ringHead, head);
        }

        ReleaseDrainedRing();
        return true;
    }

    /// <summary>Loop thread: gives the ring back to the pool if nothing is staged in it and no writer is in it.</summary>
    private void ReleaseDrainedRing()
    {
        if (_ring is not { } ring || Interlocked.CompareExchange(ref _ringState, RingBusy, RingIdle) != RingIdle)
        {
            return;
        }

        // Looked at again under the state: a writer may have staged more since the drain.
        var drained = Volatile.Read(ref _ringTail) == _ringHead;
        if (drained)
        {
            _ring = null;
        }

        Volatile.Write(ref _ringState, RingIdle);
        if (drained)
        {
            ArrayPool<byte>.Shared.Return(ring);
        }
    }

    internal void FailWrites(Exception error)
    {
        _feed?.End(QuicSocketFeedEnd.StreamFailed);
        CloseStaging();
        while (_writes.TryDequeue(out var write))
        {
            write.Fail(error);
        }
    }
}
