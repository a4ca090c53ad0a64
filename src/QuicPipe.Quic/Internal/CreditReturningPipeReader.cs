using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// The application's view of a stream's received bytes. It measures what each <see cref="AdvanceTo(SequencePosition, SequencePosition)"/>
/// consumes and hands that to the stream, which returns it to the peer as flow-control credit: the peer can send
/// only as far ahead as the application reads (receive backpressure).
/// </summary>
internal sealed class CreditReturningPipeReader : PipeReader
{
    private readonly PipeReader _inner;
    private readonly QuicStream _stream;

    // The buffer of the last read, to measure how much an AdvanceTo consumed (one reader at a time, as for any PipeReader).
    private ReadOnlySequence<byte> _lastBuffer;

    public CreditReturningPipeReader(PipeReader inner, QuicStream stream)
    {
        _inner = inner;
        _stream = stream;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var read = _inner.ReadAsync(cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            var result = read.Result;
            _lastBuffer = result.Buffer;
            return new ValueTask<ReadResult>(result);
        }

        return AwaitReadAsync(read);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!_inner.TryRead(out result))
        {
            return false;
        }

        _lastBuffer = result.Buffer;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var bytes = _lastBuffer.Slice(_lastBuffer.Start, consumed).Length;
        _inner.AdvanceTo(consumed, examined);
        _lastBuffer = default;
        if (bytes > 0)
        {
            _stream.OnConsumed(bytes);
        }
    }

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        _lastBuffer = default;
        _inner.Complete(exception);
        _stream.OnReaderCompleted();
    }

    // Runs each time the reader waits for data, up to once per received packet: the pooling builder reuses the
    // state machine box instead of allocating one per wait.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> read)
    {
        var result = await read.ConfigureAwait(false);
        _lastBuffer = result.Buffer;
        return result;
    }
}
