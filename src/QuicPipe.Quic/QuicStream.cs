using System.Buffers;
using System.IO.Pipelines;

namespace QuicPipe.Quic;

/// <summary>
/// A bidirectional QUIC stream. Received bytes arrive on <see cref="Input"/> (completed at the peer's FIN, or
/// with an error on reset); <see cref="WriteAsync"/> queues bytes to send, <see cref="CompleteWritesAsync"/>
/// sends FIN. In this phase receive has no backpressure (the peer's window is returned as soon as data is
/// copied into the pipe) and writes are buffered natively until acknowledged.
/// </summary>
public sealed class QuicStream
{
    private readonly QuicConnection _connection;
    private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));

    // Loop thread only: whether the input side has been completed (FIN, reset or connection end).
    private bool _inputCompleted;

    internal QuicStream(QuicConnection connection, long id)
    {
        _connection = connection;
        Id = id;
    }

    /// <summary>The QUIC stream ID (RFC 9000 §2.1).</summary>
    public long Id { get; }

    /// <summary>The bytes the peer sends, in order.</summary>
    public PipeReader Input => _input.Reader;

    /// <summary>Queues <paramref name="data"/> (copied) and, with <paramref name="endStream"/>, the FIN after it.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> data, bool endStream = false, CancellationToken cancellationToken = default) =>
        _connection.WriteStreamAsync(Id, data.ToArray(), endStream, cancellationToken);

    /// <summary>Sends FIN: the peer reads to the end of the stream.</summary>
    public Task CompleteWritesAsync(CancellationToken cancellationToken = default) =>
        _connection.WriteStreamAsync(Id, [], endStream: true, cancellationToken);

    /// <summary>Resets the stream in both directions with an application error code.</summary>
    public Task AbortAsync(long errorCode, CancellationToken cancellationToken = default) =>
        _connection.ShutdownStreamAsync(Id, errorCode, cancellationToken);

    internal void OnData(ReadOnlySpan<byte> data, bool fin)
    {
        if (_inputCompleted)
        {
            return;
        }

        if (!data.IsEmpty)
        {
            _input.Writer.Write(data);

            // No pause threshold: this never waits, so the loop thread is never blocked by a slow reader.
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

        if (fin)
        {
            CompleteInput(null);
        }
    }

    internal void CompleteInput(Exception? error)
    {
        if (_inputCompleted)
        {
            return;
        }

        _inputCompleted = true;
        _input.Writer.Complete(error);
    }
}
