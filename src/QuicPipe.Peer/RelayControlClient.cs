using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane;
using QuicPipe.Protocol;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// A peer's control connection to a relay (docs/relay-control.md): registers the CIDs the relay should route to
/// us, tells us our address as the relay sees it, and carries signals to and from other peers. Requests are
/// correlated by request_id, so several may be outstanding; each fails with <see cref="RelayControlException"/>
/// when the relay refuses it or the connection ends, and honours its cancellation token.
/// </summary>
public sealed class RelayControlClient : IAsyncDisposable
{
    /// <summary>Length of the random relay-namespace DCID of our Initial (the relay's default CID length).</summary>
    private const int InitialDcidLength = 12;

    /// <summary>How long the end of the control stream waits for the connection's close, whose reason says why.</summary>
    private static readonly TimeSpan CloseReasonWait = TimeSpan.FromSeconds(1);

    /// <summary>Signals held for a reader that is slow to read them; more are dropped.</summary>
    private const int SignalQueue = 1024;

    private readonly QuicConnection _connection;
    private readonly ConnectionContext _stream;
    private readonly PipeWriter _output;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ServerMessage>> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<RelaySignal> _signals = Channel.CreateBounded<RelaySignal>(new BoundedChannelOptions(SignalQueue)
    {
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _readLoop;
    private long _nextRequestId;
    private int _disposed;

    // Set once the read loop ended: why requests fail from now on.
    private volatile string? _endReason;

    // Set by the read loop before _endReason, when the relay closed the connection with an application error code.
    private long? _closeErrorCode;
    private string? _closeReasonPhrase;

    private RelayControlClient(QuicConnection connection, ConnectionContext stream)
    {
        _connection = connection;
        _stream = stream;
        _output = stream.Transport.Output;
        RelayNodeId = connection.RemoteNodeId ?? throw new InvalidOperationException("The relay presented no certificate.");
        _readLoop = ReadLoopAsync(stream.Transport.Input);
    }

    /// <summary>The relay we talk to (pinned, or whoever answered when connecting with no expected relay).</summary>
    public NodeId RelayNodeId { get; }

    /// <summary>Signals other peers sent us; completes when the connection ends.</summary>
    public ChannelReader<RelaySignal> Signals => _signals.Reader;

    /// <summary>Completes (never faults) when the control connection ends, for whatever reason.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Why the connection ended, once it has.</summary>
    public string? CloseReason => _endReason;

    /// <summary>
    /// The application error code the relay closed the connection with (a <c>RelayProtocol.Close*</c> code), once
    /// <see cref="Closed"/> completed; null when the relay did not close it (lost, timed out, or closed by us).
    /// </summary>
    public long? CloseErrorCode => _endReason is null ? null : _closeErrorCode;

    /// <summary>The reason phrase the relay closed the connection with (see <see cref="CloseErrorCode"/>); null without one.</summary>
    public string? CloseReasonPhrase => _endReason is null ? null : _closeReasonPhrase;

    /// <summary>
    /// Dials the relay over <paramref name="endpoint"/> (so that control traffic opens our NAT towards the relay),
    /// with ALPN <see cref="RelayProtocol.Alpn"/> and a random initial DCID in the relay namespace, opens the control
    /// stream and pings once, so the relay knows us (as a signal target) when this returns.
    /// <paramref name="expectedRelay"/> null: trust on first use; <see cref="RelayNodeId"/> then says whom we reached.
    /// </summary>
    public static async Task<RelayControlClient> ConnectAsync(QuicEndpoint endpoint, IPEndPoint relay, NodeId? expectedRelay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(relay);
        var options = new QuicClientConnectionOptions
        {
            ExpectedPeer = expectedRelay,
            AllowAnyPeer = expectedRelay is null,
            Alpn = RelayProtocol.Alpn,
            InitialDestinationConnectionId = RandomRelayCid(),
        };
        var connection = await endpoint.ConnectAsync(relay, options, cancellationToken).ConfigureAwait(false);
        RelayControlClient? client = null;
        try
        {
            var stream = await connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
            client = new RelayControlClient(connection, stream.AsConnectionContext());
            await client.PingAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await connection.CloseAsync(RelayProtocol.CloseNormal, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Asks the relay to route the CIDs derived from <paramref name="cidKey"/> for counters
    /// [<paramref name="firstCounter"/>, +<paramref name="window"/>) to us; the relay keeps the window ahead of the
    /// counters it sees in use.
    /// </summary>
    public async Task<RelayRegistration> RegisterDerivedAsync(ReadOnlyMemory<byte> cidKey, uint firstCounter, int window, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        var register = new Register
        {
            CidKey = ByteString.CopyFrom(cidKey.Span),
            FirstCounter = firstCounter,
            Window = (uint)window,
            LifetimeSeconds = LifetimeSeconds(lifetime),
        };
        var answer = await RequestAsync(new ClientMessage { Register = register }, ServerMessage.BodyOneofCase.Registered, cancellationToken).ConfigureAwait(false);
        return ToRegistration(answer.Registered);
    }

    /// <summary>Asks the relay to route these CIDs (peer-to-peer namespace, the relay's CID length) to us.</summary>
    public async Task<RelayRegistration> RegisterExplicitAsync(IReadOnlyList<ConnectionId> cids, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cids);
        var register = new Register { LifetimeSeconds = LifetimeSeconds(lifetime) };
        foreach (var cid in cids)
        {
            register.Cids.Add(ByteString.CopyFrom(cid.Span));
        }

        var answer = await RequestAsync(new ClientMessage { Register = register }, ServerMessage.BodyOneofCase.Registered, cancellationToken).ConfigureAwait(false);
        return ToRegistration(answer.Registered);
    }

    /// <summary>Extends all our registrations and moves them to the address we now come from.</summary>
    public async Task<RelayRegistration> RefreshAsync(CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(new ClientMessage { Refresh = new Refresh() }, ServerMessage.BodyOneofCase.Registered, cancellationToken).ConfigureAwait(false);
        return ToRegistration(answer.Registered);
    }

    public Task UnregisterAllAsync(CancellationToken cancellationToken) =>
        RequestAsync(new ClientMessage { Unregister = new Unregister { All = true } }, ServerMessage.BodyOneofCase.Ack, cancellationToken);

    /// <summary>Sends <paramref name="payload"/> to <paramref name="to"/>; completes when the relay handed it over (Ack).</summary>
    /// <exception cref="RelayControlException"><see cref="RelayErrorCode.UnknownNode"/>: <paramref name="to"/> is not connected to the relay.</exception>
    public Task SignalAsync(NodeId to, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length > RelayProtocol.MaxSignalPayload)
        {
            throw new ArgumentException($"A signal payload has at most {RelayProtocol.MaxSignalPayload} bytes, not {payload.Length}.", nameof(payload));
        }

        var signal = new Signal { To = ByteString.CopyFrom(to.Bytes), Payload = ByteString.CopyFrom(payload.Span) };
        return RequestAsync(new ClientMessage { Signal = signal }, ServerMessage.BodyOneofCase.Ack, cancellationToken);
    }

    /// <summary>Our address as the relay sees it (the reflexive address).</summary>
    public async Task<IPEndPoint> PingAsync(CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(new ClientMessage { Ping = new Ping() }, ServerMessage.BodyOneofCase.Pong, cancellationToken).ConfigureAwait(false);
        return ParseAddress(answer.Pong.ObservedAddress);
    }

    /// <summary>Ends the control stream, closes the connection and waits for the reader to stop. The relay keeps our routes for its grace period.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or QuicStreamAbortedException or InvalidOperationException)
        {
            // Already ending.
        }

        try
        {
            await _connection.CloseAsync(RelayProtocol.CloseNormal, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException)
        {
            // Already ended.
        }

        await _readLoop.ConfigureAwait(false);
        _writeLock.Dispose();
    }

    /// <summary>Sends one request and waits for its answer, which must be of <paramref name="expected"/> kind (or an Error, thrown).</summary>
    internal async Task<ServerMessage> RequestAsync(ClientMessage request, ServerMessage.BodyOneofCase expected, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        request.RequestId = id;
        var answer = new TaskCompletionSource<ServerMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            // Checked after the request is visible to the read loop: either it sees the request at its end, or we see the end here.
            ThrowIfEnded();
            await WriteAsync(request, cancellationToken).ConfigureAwait(false);
            ServerMessage message;
            using (cancellationToken.Register(static state => ((TaskCompletionSource<ServerMessage>)state!).TrySetCanceled(), answer))
            {
                message = await answer.Task.ConfigureAwait(false);
            }

            if (message.BodyCase == ServerMessage.BodyOneofCase.Error)
            {
                throw new RelayControlException((RelayErrorCode)message.Error.Code, $"The relay refused the request ({message.Error.Code}): {message.Error.Message}");
            }

            if (message.BodyCase != expected)
            {
                throw new RelayControlException(RelayErrorCode.UnexpectedAnswer, $"The relay answered {message.BodyCase} to a request expecting {expected}.");
            }

            return message;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The relay control request was cancelled.", cancellationToken);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Frames and sends one message; one writer at a time.</summary>
    private async Task WriteAsync(ClientMessage message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ControlFraming.Write(_output, message);

            // Not cancelled midway: the frame is already in the pipe, and half a flush would only delay it.
            var flushed = await _output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (flushed.IsCompleted)
            {
                throw Lost("the control stream is closed");
            }
        }
        catch (Exception e) when (e is QuicConnectionException or QuicStreamAbortedException or InvalidOperationException)
        {
            throw Lost(e.Message, e);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync(PipeReader input)
    {
        await Task.Yield();
        var reason = "the relay ended the control stream";
        try
        {
            while (await ControlFraming.ReadAsync(input, ServerMessage.Parser, CancellationToken.None).ConfigureAwait(false) is { } message)
            {
                Dispatch(message);
            }
        }
#pragma warning disable CA1031 // Whatever ended the stream ends the client; the reason goes to every waiting request.
        catch (Exception e)
#pragma warning restore CA1031
        {
            reason = e.Message;
        }

        // The relay ends the stream, then closes the connection saying why: wait briefly for that reason.
        try
        {
            await _connection.Closed.WaitAsync(CloseReasonWait).ConfigureAwait(false);
        }
        catch (QuicConnectionException e)
        {
            reason = $"{reason}; {e.Message}";
            _closeErrorCode = e.PeerApplicationErrorCode;
            _closeReasonPhrase = e.PeerReasonPhrase;
        }
        catch (TimeoutException)
        {
            // The connection lives on without its control stream: no reason to add.
        }

        _endReason = $"The control connection to relay {RelayNodeId} ended: {reason}";
        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(Lost(reason));
        }

        _signals.Writer.TryComplete();
        await input.CompleteAsync().ConfigureAwait(false);
        _closed.TrySetResult();
    }

    private void Dispatch(ServerMessage message)
    {
        if (message.RequestId == 0)
        {
            if (message.BodyCase == ServerMessage.BodyOneofCase.Signal && message.Signal.From.Length == NodeId.Size)
            {
                _signals.Writer.TryWrite(new RelaySignal(new NodeId(message.Signal.From.Span), message.Signal.Payload.ToByteArray()));
            }

            return;
        }

        if (_pending.TryGetValue(message.RequestId, out var answer))
        {
            answer.TrySetResult(message);
        }
    }

    private void ThrowIfEnded()
    {
        if (_endReason is { } reason)
        {
            throw new RelayControlException(EndCode, reason);
        }
    }

    private RelayControlException Lost(string reason, Exception? inner = null) =>
        new(EndCode, _endReason ?? $"The control connection to relay {RelayNodeId} ended: {reason}", inner);

    /// <summary>
    /// What a request fails with once the connection ended: NOT_ALLOWED when the relay closed it for that (its answer
    /// saying so goes out just before the close, and may not have left when the close discards it), else lost.
    /// </summary>
    private RelayErrorCode EndCode => _closeErrorCode == RelayProtocol.CloseNotAllowed ? RelayErrorCode.NotAllowed : RelayErrorCode.ConnectionLost;

    private static RelayRegistration ToRegistration(Registered registered) =>
        new(ParseAddress(registered.ObservedAddress), DateTimeOffset.FromUnixTimeMilliseconds((long)registered.ExpiresUnixMs), (int)registered.CidCount);

    private static IPEndPoint ParseAddress(string text) =>
        IPEndPoint.TryParse(text, out var address)
            ? address
            : throw new RelayControlException(RelayErrorCode.UnexpectedAnswer, $"The relay reported an unreadable address '{text}'.");

    private static uint LifetimeSeconds(TimeSpan lifetime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lifetime, TimeSpan.Zero);
        return (uint)Math.Min(uint.MaxValue, Math.Ceiling(lifetime.TotalSeconds));
    }

    private static ConnectionId RandomRelayCid()
    {
        Span<byte> bytes = stackalloc byte[InitialDcidLength];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] |= 0x80;
        return new ConnectionId(bytes);
    }
}
