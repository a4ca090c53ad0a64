namespace QuicPipe.Quic.Internal;

/// <summary>
/// What the loop does once per received batch rather than once per packet: each connection that read packets
/// writes its answer (ACKs, data the ACKs made room for) once, and each stream that got bytes publishes them to its
/// reader once. Per packet, the first cost a send call and the second a thread-pool wake-up of the reader for a
/// packet's worth of bytes. Owned by one endpoint and used on its loop thread only.
/// </summary>
internal sealed class ReceivedBatchWork(QuicEndpoint endpoint)
{
    // Connections that read a packet in the batch being routed, and streams given bytes in it.
    private readonly List<QuicConnection> _readInBatch = [];
    private readonly List<QuicStream> _inputsToPublish = [];

    /// <summary><paramref name="connection"/> read a packet; it answers after the whole batch.</summary>
    public void AnswerAfterBatch(QuicConnection connection)
    {
        endpoint.AssertOnLoopThread();
        if (!connection.AnswerPending)
        {
            connection.AnswerPending = true;
            _readInBatch.Add(connection);
        }
    }

    /// <summary><paramref name="stream"/> buffered received bytes; its reader sees them after the batch.</summary>
    public void PublishAfterBatch(QuicStream stream) => _inputsToPublish.Add(stream);

    /// <summary>Publishes the batch's stream input, then lets each connection that read a packet answer.</summary>
    public void Finish()
    {
        endpoint.AssertOnLoopThread();
        try
        {
            // Readers first: they start copying out while this thread writes the answers.
            foreach (var stream in _inputsToPublish)
            {
                stream.PublishInput();
            }

            var now = MonotonicClock.NowNanoseconds();
            foreach (var connection in _readInBatch)
            {
                connection.EndDatagramBatch();
                if (!connection.IsTerminated)
                {
                    // Acknowledgements may have made room in send buffers, MAX_STREAMS room for new streams.
                    connection.ResumeBlockedWork();
                    endpoint.Flush(connection, now);
                }
            }
        }
        finally
        {
            // Also when a step threw: a connection left marked would never be answered after a batch again.
            foreach (var connection in _readInBatch)
            {
                connection.AnswerPending = false;
            }

            _readInBatch.Clear();
            _inputsToPublish.Clear();
        }
    }
}
