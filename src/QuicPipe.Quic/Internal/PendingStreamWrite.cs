namespace QuicPipe.Quic.Internal;

/// <summary>One <see cref="QuicStream.WriteAsync"/> waiting for room in the stream's send buffer (loop thread).</summary>
internal sealed class PendingStreamWrite
{
    private CancellationTokenRegistration _cancellation;

    public PendingStreamWrite(ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        Data = data;
        Fin = fin;
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.Register(static state => ((PendingStreamWrite)state!).Completion.TrySetCanceled(), this);
        }
    }

    public ReadOnlyMemory<byte> Data { get; }

    public bool Fin { get; }

    /// <summary>How many of <see cref="Data"/>'s bytes the shim has queued so far.</summary>
    public int Offset { get; set; }

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Succeed()
    {
        _cancellation.Dispose();
        Completion.TrySetResult();
    }

    public void Fail(Exception error)
    {
        _cancellation.Dispose();
        Completion.TrySetException(error);
    }
}
