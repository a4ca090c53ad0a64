using System.IO.Pipelines;
using System.Threading.Channels;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Control;

/// <summary>
/// One control connection with a NodeId: its outbound queue (answers and signal deliveries) drained by the
/// single writer of its stream, and its signal rate limit.
/// </summary>
internal sealed class ControlSession
{
    private readonly Channel<ServerMessage> _outbound;

    public ControlSession(long id, QuicConnection connection, NodeId node, RelayControlOptions options)
    {
        Id = id;
        Connection = connection;
        Node = node;
        Signals = new TokenBucket(options.SignalsPerSecond, options.SignalBurst);
        _outbound = Channel.CreateBounded<ServerMessage>(new BoundedChannelOptions(options.OutboundQueue)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public long Id { get; }

    public QuicConnection Connection { get; }

    public NodeId Node { get; }

    /// <summary>Signals this identity may send now (read loop only).</summary>
    public TokenBucket Signals { get; }

    /// <summary>Protocol errors so far (read loop only).</summary>
    public int ProtocolErrors { get; set; }

    /// <summary>Queues an answer, waiting while the queue is full (the peer is not reading: its own requests slow down).</summary>
    public ValueTask SendAsync(ServerMessage message, CancellationToken cancellationToken) =>
        _outbound.Writer.WriteAsync(message, cancellationToken);

    /// <summary>Queues a delivery from someone else without waiting: false if this peer's queue is full or closed.</summary>
    public bool TryDeliver(ServerMessage message) => _outbound.Writer.TryWrite(message);

    public void CompleteOutbound() => _outbound.Writer.TryComplete();

    /// <summary>The stream's only writer: frames each queued message, flushing when the queue runs dry.</summary>
    public async Task RunWriterAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var reader = _outbound.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var message))
            {
                ControlFraming.Write(output, message);
            }

            var flushed = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted)
            {
                return;
            }
        }
    }
}
