using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// A <see cref="QuicStream"/> as a <see cref="ConnectionContext"/>. Transport.Input is the stream's own reader;
/// Transport.Output is a pipe drained by a send loop (Kestrel's SocketConnection shape): ReadAsync, write each
/// segment (waiting while the stream's send buffer is full), AdvanceTo. So backpressure holds both ways.
/// </summary>
internal sealed class QuicStreamContext : ConnectionContext, IStreamIdFeature, IStreamDirectionFeature, IStreamAbortFeature, IProtocolErrorCodeFeature, IConnectionLifetimeFeature
{
    private readonly QuicStream _stream;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed = new();
    private readonly Task _sending;

    public QuicStreamContext(QuicStream stream, string connectionId)
    {
        _stream = stream;
        _output = new Pipe(stream.Connection.StreamBuffers.OutputPipeOptions);
        ConnectionId = $"{connectionId}:{stream.Id}";
        Transport = new StreamTransport(stream.Input, _output.Writer);
        LocalEndPoint = stream.Connection.LocalEndPoint;
        RemoteEndPoint = stream.Connection.RemoteEndPoint;
        Features.Set<IStreamIdFeature>(this);
        Features.Set<IStreamDirectionFeature>(this);
        Features.Set<IStreamAbortFeature>(this);
        Features.Set<IProtocolErrorCodeFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        _sending = SendAsync();
    }

    public override IDuplexPipe Transport { get; set; }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException("ConnectionClosed follows the stream's end.");
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public long StreamId => _stream.Id;

    public bool CanRead => true;

    public bool CanWrite => true;

    /// <summary>The application error code aborts use when no other is given.</summary>
    public long Error { get; set; }

    public void AbortRead(long errorCode, ConnectionAbortedException abortReason) => Abort(errorCode, QuicAbortDirection.Read);

    public void AbortWrite(long errorCode, ConnectionAbortedException abortReason) => Abort(errorCode, QuicAbortDirection.Write);

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Abort(Error, QuicAbortDirection.Both);
        _closed.Cancel();
    }

    public override async ValueTask DisposeAsync()
    {
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _sending.ConfigureAwait(false);
        await _stream.Input.CompleteAsync().ConfigureAwait(false);
        _closed.Cancel();
        _closed.Dispose();
    }

    private void Abort(long errorCode, QuicAbortDirection direction) =>
        _ = _stream.AbortAsync(errorCode, direction).ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                foreach (var segment in result.Buffer)
                {
                    await _stream.WriteAsync(segment).ConfigureAwait(false);
                }

                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    await _stream.CompleteWritesAsync().ConfigureAwait(false);
                    break;
                }
            }

            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicStreamAbortedException or QuicConnectionException or ObjectDisposedException)
        {
            // The stream or connection ended under us: the application's writer sees it on its next flush.
            await reader.CompleteAsync(e).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The application completed Transport.Output with an error: reset the stream rather than end it cleanly.
            Abort(Error, QuicAbortDirection.Write);
            await reader.CompleteAsync(e).ConfigureAwait(false);
        }
    }

    private sealed class StreamTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
