using System.Threading.Tasks.Sources;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// One <see cref="QuicStream.WriteAsync"/> on its way to the stream's send buffer: submitted by the writer,
/// queued and drained on the loop thread, awaited as a <see cref="ValueTask"/>. Each stream keeps one for reuse,
/// so a steady writer allocates nothing per write; a write issued while the spare one is busy gets its own.
/// </summary>
/// <remarks>
/// Reuse is safe only when the loop thread has let go of the write. It does when it completes the write itself
/// (drained, failed or refused: the write is out of every queue then); a write completed elsewhere (cancelled,
/// or refused because the endpoint is gone) may still sit in a queue, so it is never reused.
/// </remarks>
internal sealed class PendingStreamWrite : IValueTaskSource
{
    private readonly QuicStream _stream;

    // Continuations run on the thread pool, never inline on the loop thread that completes the write.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;

    // Interlocked: 0 while pending, 1 once completed (the loop thread's completion and a cancellation race for it).
    private int _completed;

    // Whether GetResult gives the write back to its stream for reuse (only after the loop thread completed it).
    private bool _reusable;

    public PendingStreamWrite(QuicStream stream) => _stream = stream;

    public ReadOnlyMemory<byte> Data { get; private set; }

    public bool Fin { get; private set; }

    /// <summary>
    /// Whether it completes only once the stream's queued bytes have fallen to half its send buffer, not as soon as
    /// it is all in (see <see cref="QuicStream"/>'s remarks).
    /// </summary>
    public bool CompletesAtHalf { get; private set; }

    /// <summary>How many of <see cref="Data"/>'s bytes the shim has queued so far (loop thread).</summary>
    public int Offset { get; set; }

    /// <summary>Completed already (cancelled while queued, typically): the loop thread drops it.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>Arms the write for <paramref name="data"/> and returns what the writer awaits.</summary>
    public ValueTask Start(ReadOnlyMemory<byte> data, bool fin, bool completesAtHalf, CancellationToken cancellationToken)
    {
        _core.Reset();
        Data = data;
        Fin = fin;
        CompletesAtHalf = completesAtHalf;
        Offset = 0;
        _reusable = false;
        Volatile.Write(ref _completed, 0);
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PendingStreamWrite)state!).Complete(new OperationCanceledException(token), reusable: false), this);
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>All of it is in the send buffer (loop thread).</summary>
    public void Succeed() => Complete(null, reusable: true);

    /// <summary>It failed on the loop thread, out of every queue.</summary>
    public void Fail(Exception error) => Complete(error, reusable: true);

    /// <summary>It failed before the loop thread took it (the endpoint is gone): it may still sit in a queue.</summary>
    public void Abandon(Exception error) => Complete(error, reusable: false);

    private void Complete(Exception? error, bool reusable)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        // Waits for a cancellation callback running on another thread (it lost the race and returns at once), so
        // none is left over when the write is reused; from inside the callback it does not wait.
        _cancellation.Dispose();
        _cancellation = default;
        _reusable = reusable;
        _stream.OnWaitingWriteCompleted();
        if (error is null)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(error);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void GetResult(short token)
    {
        // A stale token (awaited twice) throws below and must not give back a write someone else now holds.
        var reusable = _reusable && token == _core.Version;
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            if (reusable)
            {
                _reusable = false;
                _stream.ReturnWrite(this);
            }
        }
    }
}
