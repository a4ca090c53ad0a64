using System.IO.Pipelines;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Where a stream's reader continues when received bytes are published: on the thread pool, or, if the application
/// asked for it (<see cref="QuicStream.UnsafePreferInlineReads"/>), right there on the loop thread, which saves a
/// thread hand-over per received batch. Inline only while <see cref="QuicStream"/> publishes after a batch, never
/// from inside an ngtcp2 callback (a FIN or a reset completes the input there), where a reader that called back
/// into the connection would re-enter ngtcp2.
/// </summary>
internal sealed class StreamReaderScheduler : PipeScheduler
{
    // Set by the application from any thread; read when a continuation is scheduled.
    public volatile bool PreferInline;

    // Loop thread: true only while the stream flushes its input after a received batch.
    public bool Publishing;

    public override void Schedule(Action<object?> action, object? state)
    {
        if (PreferInline && Publishing)
        {
            action(state);
        }
        else
        {
            // As PipeScheduler.ThreadPool does for a Pipe: the unsafe overload queues an async state machine's box
            // itself (no work item allocated per continuation), and the Pipe flows any ExecutionContext on its own.
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
    }
}
