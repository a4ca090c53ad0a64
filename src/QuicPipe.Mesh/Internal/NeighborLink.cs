using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Mesh;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// One neighbour link: a QUIC connection of the mesh's ALPN, its one control stream (probes, answers, closes,
/// keep-alives, framed as <see cref="ControlFraming"/> says) and its cells (unprotected on its path, or DATAGRAM frames). Goes down when the
/// connection ends or nothing was heard for the link timeout.
/// </summary>
internal sealed class NeighborLink : IQuicDatagramReceiver, IQuicUnprotectedDatagramReceiver
{
    // Control messages waiting for the writer: bounded, so a neighbour that stops reading cannot make us hold more.
    private const int SendQueueCapacity = 4096;

    private readonly MeshNode _node;
    private readonly QuicStream _control;
    private readonly Channel<MeshMessage> _sends = Channel.CreateBounded<MeshMessage>(new BoundedChannelOptions(SendQueueCapacity) { SingleReader = true });
    private readonly uint _idSide;
    private readonly CancellationTokenSource _down = new();
    private long _lastHeardTicks = Environment.TickCount64;
    private uint _nextId;

    public NeighborLink(MeshNode node, QuicConnection connection, QuicStream control, NodeId neighbor, bool weSortFirst, int probesPerSecond, bool encryptsCells)
    {
        EncryptsCells = encryptsCells;
        _node = node;
        Connection = connection;
        _control = control;
        Neighbor = neighbor;

        // Both ends choose ids on the link (each for the circuits it answered FOUND on it): the top bit keeps them apart.
        _idSide = weSortFirst ? 0x8000_0000u : 0;
        ProbeBudget = new TokenBucket(probesPerSecond);
    }

    public NodeId Neighbor { get; }

    public QuicConnection Connection { get; }

    /// <summary>
    /// Whether cells this node sends on the link go inside its encryption (DATAGRAM frames) rather than unprotected on
    /// its path, switched by the link's CID and the circuit id (<see cref="MeshNodeOptions.EncryptedHops"/>). Either
    /// kind is taken in.
    /// </summary>
    public bool EncryptsCells { get; }

    /// <summary>The circuits on this link, by the id their cells carry on it.</summary>
    public ConcurrentDictionary<uint, CircuitHop> Hops { get; } = new();

    /// <summary>This neighbour's probe rate (the node's lock guards it).</summary>
    public TokenBucket ProbeBudget { get; }

    /// <summary>Whether its DATAGRAMs hold a full inner packet (path MTU discovery raises the limit after the handshake).</summary>
    public bool CarriesCells => Connection.MaxDatagramSize >= MeshProtocol.MinimumCellSize && !IsDown;

    public bool IsDown => _down.IsCancellationRequested;

    /// <summary>A circuit id of our side that no circuit on this link uses.</summary>
    public uint AllocateId()
    {
        while (true)
        {
            var id = _idSide | (Interlocked.Increment(ref _nextId) & 0x7FFF_FFFFu);
            if (!Hops.ContainsKey(id))
            {
                return id;
            }
        }
    }

    /// <summary>Queues a control message; false (dropped) when the link is down or its queue is full.</summary>
    public bool Send(MeshMessage message) => !IsDown && _sends.Writer.TryWrite(message);

    public bool TrySendCell(ReadOnlySpan<byte> cell) => EncryptsCells ? Connection.TrySendDatagram(cell) : Connection.TrySendUnprotectedDatagram(cell);

    public void OnDatagram(QuicConnection connection, ReadOnlySpan<byte> datagram) => _node.OnCell(this, datagram);

    public QuicConnection? OnUnprotectedDatagram(QuicConnection connection, Span<byte> datagram) => _node.OnUnprotectedCell(this, datagram);

    /// <summary>Runs the link until it goes down; then returns why.</summary>
    public async Task<string> RunAsync(TimeSpan keepAlive, TimeSpan timeout, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _down.Token);
        Connection.SetDatagramReceiver(this);
        Connection.SetUnprotectedDatagramReceiver(this);
        var reader = ReadAsync(linked.Token);
        var writer = WriteAsync(linked.Token);
        var reason = "stopping";
        try
        {
            while (!linked.IsCancellationRequested)
            {
                if (reader.IsCompleted)
                {
                    reason = reader.Result;
                    break;
                }

                if (Connection.Closed.IsCompleted)
                {
                    reason = $"connection closed{(Connection.CloseReason is { } why ? $": {why}" : "")}";
                    break;
                }

                var silent = TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastHeardTicks));
                if (silent > timeout)
                {
                    reason = $"nothing heard for {silent.TotalSeconds:0.0} s";
                    break;
                }

                Send(new MeshMessage { KeepAlive = new LinkKeepAlive() });
                await Task.WhenAny(Task.Delay(keepAlive, linked.Token), reader, Connection.Closed).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await _down.CancelAsync().ConfigureAwait(false);
        _sends.Writer.TryComplete();
        Connection.SetDatagramReceiver(null);
        Connection.SetUnprotectedDatagramReceiver(null);
        _ = Connection.CloseAsync(0, $"mesh link down: {reason}");
        await Task.WhenAll(reader, writer).ConfigureAwait(false);
        return reason;
    }

    private async Task<string> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var message = await ControlFraming.ReadAsync(_control.Input, MeshMessage.Parser, cancellationToken).ConfigureAwait(false);
                if (message is null)
                {
                    return "the neighbour ended the link";
                }

                Volatile.Write(ref _lastHeardTicks, Environment.TickCount64);
                _node.OnMessage(this, message);
            }
        }
        catch (ControlProtocolException e)
        {
            return $"protocol error: {e.Message}";
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or QuicStreamAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            return e is OperationCanceledException ? "stopping" : e.Message;
        }
    }

    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            while (await _sends.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                buffer.ResetWrittenCount();
                while (buffer.WrittenCount < 64 * 1024 && _sends.Reader.TryRead(out var message))
                {
                    ControlFraming.Write(buffer, message);
                }

                await _control.WriteAsync(buffer.WrittenMemory, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or QuicStreamAbortedException or ObjectDisposedException or InvalidOperationException or ChannelClosedException)
        {
            // The link is going down: RunAsync notices through the reader, the connection or the silence.
            await _down.CancelAsync().ConfigureAwait(false);
        }
    }
}
