using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>
/// One QUIC connection on a <see cref="QuicEndpoint"/>. All native state is touched only on the endpoint's loop
/// thread; the public methods post work to it. Obtained from <see cref="QuicEndpoint.ConnectAsync"/> or
/// <see cref="QuicEndpoint.AcceptAsync"/>, so the handshake (and the NodeId pin) has already succeeded.
/// </summary>
public sealed class QuicConnection
{
    private readonly QuicEndpoint _endpoint;
    private readonly NodeId? _expectedPeer;
    private readonly Dictionary<long, QuicStream> _streams = [];

    // Loop thread only: stream opens waiting for the peer to allow more streams (MAX_STREAMS), oldest first.
    private readonly Queue<TaskCompletionSource<QuicStream>> _pendingOpens = new();

    // Loop thread only: streams with writes waiting for acknowledgements to make room in their send buffer.
    private readonly HashSet<QuicStream> _blockedWriters = [];

    // Loop thread only: ResumeBlockedWork's copy of _blockedWriters (draining changes the set), reused so that an
    // acknowledgement arriving while a writer waits does not allocate.
    private readonly List<QuicStream> _blockedIteration = [];
    private readonly Channel<QuicStream> _incomingStreams = Channel.CreateUnbounded<QuicStream>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
    private readonly Channel<ReadOnlyMemory<byte>> _datagrams;
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // This connection's path probes: its probe id and key, and the tries in flight.
    private readonly PathProber _pathProber;

    // This connection's path and the migrations that move it: our address on it, the peer's, the migration of ours
    // in progress, and the PathChanged events.
    private readonly ConnectionMigration _migration;

    // The CIDs of ours that route to this connection (loop thread only); removed from the endpoint at the end.
    private readonly List<ConnectionId> _localCids = [];
    private SafeQuicConnectionHandle? _handle;
    private GCHandle _self;

    // An exception thrown by a callback, reported when the shim call that ran it returns.
    private Exception? _callbackFailure;

    private long _datagramsDroppedOnReceive;
    private long _datagramsDroppedOnSend;

    // A TUN reader's batch, and then some, between two turns of the loop.
    private const int DatagramQueueCapacity = 256;

    // Above any one packet's payload on a 1500-byte path.
    private const int DatagramSlotSize = 1536;

    // What a DATAGRAM may hold once path MTU discovery reached its usual ceiling (1452-byte packets, less a short
    // header and the AEAD tag): below it, the limit is read again before each packet write.
    private const int MaxDatagramSizeAfterDiscovery = 1400;

    // Two send batches' worth: a write that fills a batch finds the next one ready, and no more waits in the engine.
    private const int EngineDatagramBacklog = 128;

    // The packet path's DATAGRAMs (TrySendDatagram): made on first use, so connections that never send one do not
    // carry its slots; moved into the engine by MoveQueuedDatagrams before each of the loop's packet writes. A
    // sender that finds the loop asleep posts _wakeForDatagrams (at most once until it runs) so that write comes.
    private PacketQueue? _datagramQueue;
    private readonly Action _wakeForDatagrams;
    private int _wakeForDatagramsPosted;
    private volatile IQuicDatagramReceiver? _datagramReceiver;

    // The stats when the connection ended (its native side is freed then).
    private QuicConnectionStats _finalStats;

    internal QuicConnection(QuicEndpoint endpoint, bool isServer, PeerAddress remote, NodeId? expectedPeer)
    {
        _endpoint = endpoint;
        _pathProber = new PathProber(this, endpoint);
        _migration = new ConnectionMigration(this, endpoint, remote);
        IsServer = isServer;
        _expectedPeer = expectedPeer;
        _datagrams = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(endpoint.DatagramReceiveQueue) { SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        _wakeForDatagrams = OnWokenForDatagrams;
        _self = GCHandle.Alloc(this);
    }

    public bool IsServer { get; }

    /// <summary>Loop thread: the address an incoming connection's handshake counts against, until it ends (then null).</summary>
    internal PeerAddress? HandshakeSource { get; set; }

    /// <summary>The peer's address on the current path: it changes with migrations (see <see cref="PathChanged"/>).</summary>
    public IPEndPoint RemoteEndPoint => _migration.RemoteEndPoint;

    /// <summary>The local address of the endpoint this connection runs on.</summary>
    public IPEndPoint LocalEndPoint => _endpoint.LocalEndPoint;

    /// <summary>The peer's NodeId (hash of the key in the certificate it presented), once the handshake is done.</summary>
    public NodeId? RemoteNodeId { get; private set; }

    /// <summary>The ALPN protocol both sides agreed on.</summary>
    public string? NegotiatedAlpn { get; private set; }

    /// <summary>Completes when the connection ends: normally, or with a <see cref="QuicConnectionException"/>.</summary>
    public Task Closed => _closed.Task;

    internal Task Handshake => _handshake.Task;

    internal nint UserPointer => GCHandle.ToIntPtr(_self);

    /// <summary>Names this connection in path probes (same value at both ends); valid once <see cref="ProbeKey"/> is set.</summary>
    internal ulong ProbeId => _pathProber.ProbeId;

    /// <summary>Authenticates this connection's path probes; null before the handshake completed.</summary>
    internal byte[]? ProbeKey => _pathProber.ProbeKey;

    /// <summary>
    /// Checks that the peer answers at <paramref name="remote"/> without moving the connection there: sends
    /// authenticated probes from this endpoint's socket (up to 5 tries over 3.1 s) and returns the round-trip time
    /// of the first one answered. The connection's path, streams and congestion state are untouched, and no
    /// <see cref="PathChanged"/> is raised. Either side may probe.
    /// </summary>
    /// <remarks>
    /// ngtcp2 0.12 sends PATH_CHALLENGE only as part of a migration, so the probe is QuicPipe's own datagram (not
    /// QUIC), answered by the peer's <see cref="QuicEndpoint"/> itself: the peer must be a QuicPipe endpoint. The probe
    /// key comes from the TLS exporter, so nobody else can make or answer one; probes with a wrong key are dropped
    /// and counted (<see cref="QuicEndpoint.PathProbesDropped"/>). An answer counts only if it comes from
    /// <paramref name="remote"/> itself.
    /// </remarks>
    /// <exception cref="QuicConnectionException">No answer after the last try, or the connection ended.</exception>
    /// <exception cref="InvalidOperationException">Too many probes in flight on this connection.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    public Task<TimeSpan> ProbePathAsync(IPEndPoint remote, CancellationToken cancellationToken = default) =>
        _pathProber.ProbeAsync(remote, cancellationToken);

    /// <summary>Loop thread: an authenticated answer arrived. False if no try of ours has that nonce, or it came from elsewhere.</summary>
    internal bool OnPathProbeResponse(ulong nonce, in PeerAddress source) => _pathProber.OnResponse(nonce, source);

    /// <summary>
    /// The connection moved to another path, or a new path failed validation (see <see cref="QuicPathChangeReason"/>).
    /// Raised on the endpoint's loop thread, inside the engine: keep handlers short and do not block; an exception
    /// thrown by a handler is written to stderr and otherwise ignored.
    /// </summary>
    public event EventHandler<QuicPathChangedEventArgs>? PathChanged
    {
        add => _migration.PathChanged += value;
        remove => _migration.PathChanged -= value;
    }

    /// <summary>
    /// Client side: moves the connection to <paramref name="newRemote"/> over the same local socket (e.g. from a
    /// relay to the peer's direct address), keeping its streams. Sends PATH_CHALLENGE to the new address with a
    /// fresh CID of the peer's and switches when the PATH_RESPONSE arrives; until then, and if validation fails,
    /// traffic stays on the current path. Completes once switched (after <see cref="PathChanged"/> with
    /// <see cref="QuicPathChangeReason.Migrated"/>). RTT and congestion state restart on the new path, so
    /// <see cref="GetStatsAsync"/> reports the current path's.
    /// </summary>
    /// <remarks>
    /// Cancelling stops the wait, not a validation already sent: if it later succeeds, the connection switches and
    /// <see cref="PathChanged"/> reports it.
    /// </remarks>
    /// <exception cref="InvalidOperationException">This is the server side, or a migration is already in progress.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    /// <exception cref="QuicConnectionException">
    /// Validation failed (nobody answered at <paramref name="newRemote"/> in time: the connection stays on its old path),
    /// the migration could not start (no spare CID from the peer, handshake not confirmed, the peer disabled active
    /// migration), or the connection ended.
    /// </exception>
    public Task MigrateAsync(IPEndPoint newRemote, CancellationToken cancellationToken = default) =>
        MigrateAsync(newRemote, QuicMigrationMode.ValidateFirst, cancellationToken);

    /// <summary>
    /// Client side: moves the connection to <paramref name="newRemote"/> over the same local socket, validating the
    /// new path first or switching at once (<paramref name="mode"/>). With <see cref="QuicMigrationMode.Immediate"/>
    /// the traffic moves before this call returns its task, and the task completes (after <see cref="PathChanged"/>
    /// with <see cref="QuicPathChangeReason.Migrated"/>) once the peer answered on the new path, or fails if it did
    /// not; the connection stays on the new path either way.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is the server side, or a migration is already in progress.</exception>
    /// <exception cref="ArgumentException">The address family differs from the endpoint's socket.</exception>
    /// <exception cref="QuicConnectionException">Validation failed, the migration could not start, or the connection ended.</exception>
    public Task MigrateAsync(IPEndPoint newRemote, QuicMigrationMode mode, CancellationToken cancellationToken = default) =>
        _migration.MigrateAsync(newRemote, mode, cancellationToken);

    /// <summary>
    /// Tells the connection that its path works again (its relay came back, a link returned): the loss-recovery
    /// probe that the probe timer would send later goes out now. Any thread. Does nothing unless a probe has already
    /// gone unanswered (so a healthy connection is left alone, and a caller may ask as often as it checks its path),
    /// or when the connection has ended.
    /// </summary>
    /// <remarks>
    /// The probe timer doubles with each probe that goes unanswered, so after an outage of some seconds it has backed
    /// off to about as long again: without this call the connection would stay stalled that long after the path is
    /// back. Each side asks for its own: the peer's probes went unanswered too. ngtcp2 0.12 cannot fire its timer
    /// early, so the engine moves this connection's clock to the timer's deadline; that brings the idle timeout
    /// nearer too, and one call may take at most half of what is left of it. It does nothing while a path validation
    /// runs (a migration of ours, or a server checking the path its peer moved to), whose timer the move would expire.
    /// </remarks>
    public void ProbeNow() => Post(() =>
    {
        if (!IsTerminated)
        {
            _ = QuicShim.ConnProbeNow(Handle, MonotonicClock.NowNanoseconds());
        }
    });

    /// <summary>Moves the connection to a new local address at once, validating after (loop thread; see QuicEndpoint.RebindAsync).</summary>
    internal Task MoveToLocalAddress(PeerAddress local, CancellationToken cancellationToken) =>
        _migration.MoveToLocalAddress(local, cancellationToken);

    internal SafeQuicConnectionHandle Handle => _handle ?? throw new ObjectDisposedException(nameof(QuicConnection));

    internal bool IsTerminated { get; private set; }

    /// <summary>Loop thread: read a packet in the batch being routed and not yet answered (QuicEndpoint.ReceivedBatch).</summary>
    internal bool AnswerPending { get; set; }

    /// <summary>Loop thread: <paramref name="stream"/>'s reader sees its new bytes once the received batch is done.</summary>
    internal void PublishAfterBatch(QuicStream stream) => _endpoint.PublishAfterBatch(stream);

    internal IReadOnlyList<ConnectionId> LocalConnectionIds => _localCids;

    /// <summary>Its slot in the endpoint's connection table, named by its CID routes; -1 before it has one and once released.</summary>
    internal int Slot { get; set; } = -1;

    /// <summary>Owner of its CID routes, unique per connection for the endpoint's life, so that a CID another connection took over is never removed by this one.</summary>
    internal ulong RouteOwner { get; set; }

    /// <summary>Once ended: when (loop clock, ns) its closing or draining period ends; 0 if it has none.</summary>
    internal ulong ClosingUntil { get; private set; }

    /// <summary>Our CONNECTION_CLOSE, re-sent during the closing period; null while draining.</summary>
    internal byte[]? CloseDatagram { get; private set; }

    /// <summary>Packets that arrived for it after it ended (loop thread), to rate-limit the re-sent close.</summary>
    internal int PacketsWhileClosed { get; set; }

    /// <summary>Opens a bidirectional stream, waiting while the peer's stream limit is reached.</summary>
    /// <exception cref="QuicConnectionException">The connection ended.</exception>
    public async Task<QuicStream> OpenBidirectionalStreamAsync(CancellationToken cancellationToken = default)
    {
        var open = new TaskCompletionSource<QuicStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = cancellationToken.Register(static state => ((TaskCompletionSource<QuicStream>)state!).TrySetCanceled(), open);
        _endpoint.Post(() =>
        {
            if (IsTerminated)
            {
                open.TrySetException(new QuicConnectionException("The connection has ended."));
                return;
            }

            _pendingOpens.Enqueue(open);
            OpenPendingStreams();
        });
        return await open.Task.ConfigureAwait(false);
    }

    /// <summary>Waits for the peer to open a stream.</summary>
    public async ValueTask<QuicStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var stream = await _incomingStreams.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            Post(stream.OnAccepted);
            return stream;
        }
        catch (ChannelClosedException e)
        {
            throw new QuicConnectionException("The connection ended; no more streams will arrive.", e);
        }
    }

    /// <summary>Closes the connection with an application error code (0: no error) and sends CONNECTION_CLOSE.</summary>
    public Task CloseAsync(long errorCode = 0, CancellationToken cancellationToken = default) =>
        CloseAsync(errorCode, null, cancellationToken);

    /// <summary>
    /// Closes the connection with an application error code and a reason phrase (at most
    /// <see cref="MaxCloseReasonBytes"/> bytes of UTF-8), both sent to the peer in CONNECTION_CLOSE; the peer's
    /// <see cref="Closed"/> fails with a message that quotes them.
    /// </summary>
    public Task CloseAsync(long errorCode, string? reason, CancellationToken cancellationToken = default)
    {
        var reasonBytes = string.IsNullOrEmpty(reason) ? [] : Encoding.UTF8.GetBytes(reason);
        if (reasonBytes.Length > MaxCloseReasonBytes)
        {
            throw new ArgumentException($"The close reason is {reasonBytes.Length} bytes of UTF-8; at most {MaxCloseReasonBytes} fit.", nameof(reason));
        }

        return _endpoint.InvokeAsync(() =>
        {
            if (!IsTerminated)
            {
                _endpoint.Close(this, (ulong)errorCode, reasonBytes);
            }

            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Largest DATAGRAM payload (RFC 9221) this connection sends: the peer's max_datagram_frame_size less the frame
    /// header, and what fits one packet on the path (about 1150 bytes until path MTU discovery finds more; read at
    /// the handshake and again each time <see cref="TrySendDatagram"/>'s queue is drained). 0 when the peer did not
    /// negotiate DATAGRAM frames, or the connection ended.
    /// </summary>
    public int MaxDatagramSize { get; private set; }

    /// <summary>
    /// The packet path's send: copies <paramref name="datagram"/> into the connection's queue, from any thread,
    /// without allocating; the endpoint's loop hands it to the engine on its next turn (sent ahead of stream data,
    /// batched with whatever else is queued). False, and counted in <see cref="DatagramsDroppedOnSend"/>, when it
    /// cannot go: larger than <see cref="MaxDatagramSize"/> (check first to tell the sender why), DATAGRAMs not
    /// negotiated, the queue full, or the connection ended.
    /// </summary>
    public bool TrySendDatagram(ReadOnlySpan<byte> datagram)
    {
        if (TryQueueDatagram(datagram))
        {
            return true;
        }

        Interlocked.Increment(ref _datagramsDroppedOnSend);
        return false;
    }

    /// <summary>
    /// <see cref="TrySendDatagram"/> for a sender that would rather wait than drop: while the queue is full (the loop
    /// has not had its turn to drain it), spins up to <paramref name="wait"/> for room,
    /// so a TUN reader slows down and the kernel's queue in front of it pushes back on the local TCP senders instead
    /// of their packets being lost. False (counted as dropped) when it cannot go even so.
    /// </summary>
    public bool SendDatagram(ReadOnlySpan<byte> datagram, TimeSpan wait)
    {
        if (TryQueueDatagram(datagram))
        {
            return true;
        }

        // Tried again until it goes, for as long as only a full queue stands in the way: the loop may drain the queue
        // between a failed try and any look at its count, so the count alone cannot say "give up".
        var deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        var spin = default(SpinWait);
        while (datagram.Length <= MaxDatagramSize && datagram.Length <= DatagramSlotSize && !IsTerminated && Environment.TickCount64 <= deadline)
        {
            spin.SpinOnce();
            if (TryQueueDatagram(datagram))
            {
                return true;
            }
        }

        Interlocked.Increment(ref _datagramsDroppedOnSend);
        return false;
    }

    private bool TryQueueDatagram(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > MaxDatagramSize || datagram.Length > DatagramSlotSize || IsTerminated)
        {
            return false;
        }

        var queue = _datagramQueue ?? CreateDatagramQueue();
        if (!queue.TryEnqueue(datagram))
        {
            return false;
        }

        if (Interlocked.Exchange(ref _wakeForDatagramsPosted, 1) == 0)
        {
            try
            {
                _endpoint.Post(_wakeForDatagrams);
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Sends this connection's DATAGRAMs to <paramref name="receiver"/> as they arrive, on the loop thread, instead of
    /// queueing copies for <see cref="ReadDatagramAsync"/>; null goes back to the queue. Any thread. The receiver
    /// first gets, in order, what was queued before it was set (a peer may send as soon as the handshake is done,
    /// before whoever accepted the connection has set a receiver); the loop thread makes the switch, so none of it
    /// is lost or reordered.
    /// </summary>
    public void SetDatagramReceiver(IQuicDatagramReceiver? receiver)
    {
        if (receiver is null)
        {
            _datagramReceiver = null;
            return;
        }

        try
        {
            _endpoint.Post(() =>
            {
                while (_datagrams.Reader.TryRead(out var queued))
                {
                    receiver.OnDatagram(this, queued.Span);
                }

                _datagramReceiver = receiver;
                receiver.OnDatagramBatchEnd(this);
            });
        }
        catch (ObjectDisposedException)
        {
            // The endpoint is stopping: the connection ends with it, and nothing more arrives.
        }
    }

    /// <summary>
    /// Sends this connection's unprotected datagrams (<see cref="TrySendUnprotectedDatagram"/>) to
    /// <paramref name="receiver"/>, on the loop thread; null refuses them again (counted in
    /// <see cref="UnprotectedDatagramsRefused"/>). Any thread. Setting one also makes this side able to send them: the
    /// loop reads the connection's current DCID and path now and after each flush from then on.
    /// </summary>
    public void SetUnprotectedDatagramReceiver(IQuicUnprotectedDatagramReceiver? receiver)
    {
        Unprotected.Receiver = receiver;
        if (receiver is null)
        {
            return;
        }

        try
        {
            _endpoint.Post(() =>
            {
                Unprotected.Track();
                RefreshUnprotectedPath();
            });
        }
        catch (ObjectDisposedException)
        {
            // The endpoint is stopping: nothing more is sent or received.
        }
    }

    /// <summary>
    /// Sends <paramref name="payload"/> to the peer outside QUIC's protection, at once, from any thread: one UDP datagram
    /// on this connection's current path (through the relay it runs through, if it does), addressed by the CID the
    /// connection sends to and marked by a tag both ends derive from the TLS exporter, which the peer's endpoint hands to
    /// its <see cref="IQuicUnprotectedDatagramReceiver"/>. 22 to 29 bytes go in front of the payload.
    /// Nothing about it is encrypted, authenticated, acknowledged or congestion-controlled: only for payloads that are
    /// already protected end to end (a circuit's inner QUIC packets). The receiver takes it only from the connection's
    /// current path. False (counted in <see cref="UnprotectedDatagramsRefused"/>) when it cannot go: no receiver was
    /// set on this side yet, the connection ended, the payload is over <see cref="MaxUnprotectedPayload"/>, or the
    /// kernel refused it.
    /// </summary>
    public bool TrySendUnprotectedDatagram(ReadOnlySpan<byte> payload)
    {
        if (UnprotectedTargetFor(payload.Length) is not { } target)
        {
            return false;
        }

        Span<byte> datagram = stackalloc byte[target.Header.Length + payload.Length];
        target.Write(datagram, [], payload);
        if (!_endpoint.TrySendUnconnected(datagram, target.Remote))
        {
            Unprotected.CountRefused();
            return false;
        }

        Unprotected.CountSent();
        return true;
    }

    /// <summary>Largest payload of an unprotected datagram: what a receive slot holds, less the header (the path may carry less).</summary>
    public static int MaxUnprotectedPayload => PacketBatch.DefaultSlotSize - 1 - ConnectionId.MaxLength - UnprotectedPath.TagLength;

    /// <summary>Unprotected datagrams sent (<see cref="TrySendUnprotectedDatagram"/>) or passed on through this connection by a receiver.</summary>
    public long UnprotectedDatagramsSent => Unprotected.Sent;

    /// <summary>
    /// Unprotected datagrams refused: on sending (see <see cref="TrySendUnprotectedDatagram"/>), and on receiving, those
    /// from another address than the connection's current path or with no receiver set.
    /// </summary>
    public long UnprotectedDatagramsRefused => Unprotected.Refused;

    internal UnprotectedPath Unprotected { get; } = new();

    /// <summary>The endpoint this connection's packets come and go through.</summary>
    internal QuicEndpoint Endpoint => _endpoint;

    /// <summary>
    /// Any thread: where an unprotected datagram of <paramref name="payloadLength"/> bytes goes now; null (counted as
    /// refused) when it cannot go: no path read yet, the connection ended, or the payload is too large.
    /// </summary>
    internal UnprotectedPath.Target? UnprotectedTargetFor(int payloadLength)
    {
        if (Unprotected.Current is { } target && !IsTerminated && payloadLength <= MaxUnprotectedPayload)
        {
            return target;
        }

        Unprotected.CountRefused();
        return null;
    }

    /// <summary>Loop thread: reads where unprotected datagrams go now (after a flush, or when they are first used).</summary>
    internal unsafe void RefreshUnprotectedPath()
    {
        if (IsTerminated)
        {
            return;
        }

        PeerAddress local;
        PeerAddress remote;
        if (QuicShim.ConnGetPath(Handle, (byte*)&local, (byte*)&remote) == 0)
        {
            Unprotected.Refresh(Handle, remote);
        }
    }

    /// <summary>Loop thread, after each received batch: the receiver hands on what it held from the batch.</summary>
    internal void EndDatagramBatch() => _datagramReceiver?.OnDatagramBatchEnd(this);

    /// <summary>Received DATAGRAMs dropped because the receive queue (QuicEndpointOptions.DatagramReceiveQueue) was full.</summary>
    public long DatagramsDroppedOnReceive => Interlocked.Read(ref _datagramsDroppedOnReceive);

    /// <summary>DATAGRAMs dropped before sending: a send queue was full (the shim's holds 4096), or <see cref="TrySendDatagram"/> refused one.</summary>
    public long DatagramsDroppedOnSend => Interlocked.Read(ref _datagramsDroppedOnSend);

    /// <summary>
    /// Queues an unreliable DATAGRAM (RFC 9221) for the peer; completes once queued (sent ahead of stream data).
    /// It may be lost (see <see cref="QuicConnectionStats.PacketsLost"/>) and is never retransmitted; if the send queue
    /// is full it is dropped and counted in <see cref="DatagramsDroppedOnSend"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The peer did not negotiate DATAGRAM frames.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The datagram is larger than <see cref="MaxDatagramSize"/>.</exception>
    /// <exception cref="QuicConnectionException">The connection ended.</exception>
    public Task SendDatagramAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken = default)
    {
        var limit = MaxDatagramSize;
        if (limit == 0)
        {
            return Task.FromException(new InvalidOperationException(
                IsTerminated || !_handshake.Task.IsCompletedSuccessfully
                    ? "DATAGRAM frames can be sent only on an established connection."
                    : "The peer did not negotiate DATAGRAM frames (RFC 9221): its max_datagram_frame_size transport parameter is absent or 0 (QuicEndpointOptions.MaxDatagramFrameSize on its side)."));
        }

        if (datagram.Length > limit)
        {
            return Task.FromException(new ArgumentOutOfRangeException(nameof(datagram), datagram.Length, $"A DATAGRAM of {datagram.Length} bytes exceeds this connection's limit of {limit} bytes (QuicConnection.MaxDatagramSize: the peer's max_datagram_frame_size and one packet on the path)."));
        }

        return _endpoint.InvokeAsync(() =>
        {
            ThrowIfTerminated();
            int rv;
            unsafe
            {
                fixed (byte* d = datagram.Span)
                {
                    rv = QuicShim.ConnSendDatagram(Handle, d, (nuint)datagram.Length);
                }
            }

            if (rv == QuicShim.ErrorDatagramQueueFull)
            {
                Interlocked.Increment(ref _datagramsDroppedOnSend);
            }
            else if (rv != 0)
            {
                throw new QuicConnectionException($"Cannot send a DATAGRAM of {datagram.Length} bytes: {QuicShim.Describe(rv)}") { NativeError = rv };
            }

            return true;
        }, cancellationToken);
    }

    /// <summary>Waits for the next DATAGRAM from the peer.</summary>
    /// <exception cref="QuicConnectionException">The connection ended; no more DATAGRAMs will arrive.</exception>
    public async ValueTask<ReadOnlyMemory<byte>> ReadDatagramAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _datagrams.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw new QuicConnectionException("The connection ended; no more DATAGRAMs will arrive.", e);
        }
    }

    /// <summary>Longest close reason <see cref="CloseAsync(long, string?, CancellationToken)"/> sends, in UTF-8 bytes.</summary>
    public const int MaxCloseReasonBytes = 256;

    /// <summary>
    /// Why the connection ended, once it has (null while it lives): e.g. "idle timeout: no packet for 1s
    /// (QuicEndpointOptions.IdleTimeout)", "closed locally with application error 7, reason \"bye\"", or the
    /// message of the exception <see cref="Closed"/> failed with.
    /// </summary>
    public string? CloseReason { get; private set; }

    /// <summary>
    /// A snapshot of the connection's RTT, congestion window, byte, packet and loss counters, read on the endpoint's
    /// loop thread. After the connection ended: the last values it had.
    /// </summary>
    public Task<QuicConnectionStats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        _endpoint.InvokeAsync(() => IsTerminated ? _finalStats : ReadStats(), cancellationToken);

    /// <summary>
    /// Streams the connection still tracks (not yet closed by ngtcp2: data or a FIN unsent, unacknowledged or
    /// unread), read on the loop thread; for tests and diagnostics: it returns to 0 when every stream is done.
    /// </summary>
    internal Task<int> GetTrackedStreamCountAsync(CancellationToken cancellationToken = default) =>
        _endpoint.InvokeAsync(() => _streams.Count, cancellationToken);

    private QuicConnectionStats ReadStats()
    {
        if (QuicShim.ConnGetStats(Handle, out var s) != 0)
        {
            return default;
        }

        return new QuicConnectionStats
        {
            SmoothedRtt = Duration(s.SmoothedRttNs),
            MinRtt = s.MinRttNs == ulong.MaxValue ? TimeSpan.Zero : Duration(s.MinRttNs),
            LatestRtt = Duration(s.LatestRttNs),
            RttVariation = Duration(s.RttVarNs),
            CongestionWindow = (long)s.CongestionWindow,
            BytesInFlight = (long)s.BytesInFlight,
            BytesSent = (long)s.BytesSent,
            BytesReceived = (long)s.BytesReceived,
            PacketsSent = (long)s.PacketsSent,
            PacketsReceived = (long)s.PacketsReceived,
            PacketsLost = (long)s.PacketsLost,
            PtoCount = (int)Math.Min(s.PtoCount, int.MaxValue),
            CongestionControl = (QuicCongestionControl)s.CongestionControl,
        };

        static TimeSpan Duration(ulong ns) => ns >= (ulong)TimeSpan.MaxValue.Ticks / 100 * 100 ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)(ns / 100));
    }

    /// <summary>Loop thread: a write submitted to <paramref name="stream"/> joins its queue and drains what fits.</summary>
    internal void AcceptWrite(QuicStream stream, PendingStreamWrite write)
    {
        _endpoint.AssertOnLoopThread();
        if (IsTerminated)
        {
            write.Fail(new QuicConnectionException("The connection has ended."));
            return;
        }

        stream.EnqueueWrite(write);
        MoveWritesToSendBuffer(stream);
    }

    /// <summary>
    /// Loop thread: what waits in <paramref name="stream"/> (bytes writers staged in its ring, queued writes, its socket
    /// feed's readable bytes) goes into its send buffer as far as it has room.
    /// </summary>
    internal void DrainWrites(QuicStream stream)
    {
        _endpoint.AssertOnLoopThread();
        if (!IsTerminated)
        {
            MoveWritesToSendBuffer(stream);
        }
    }

    /// <summary>Drains <paramref name="stream"/>'s writes; it stays among the blocked writers while some wait for room.</summary>
    private void MoveWritesToSendBuffer(QuicStream stream) => UpdateBlocked(stream, stream.DrainWrites(Handle, _endpoint.StreamSendBuffer));

    /// <summary>Most bytes a stream holds queued and unacknowledged (QuicEndpointOptions.StreamSendBuffer); any thread.</summary>
    internal int StreamSendBuffer => _endpoint.StreamSendBuffer;

    /// <summary>The blocks behind this connection's stream pipes: the endpoint's pool.</summary>
    internal StreamBufferPool StreamBuffers => _endpoint.StreamBuffers;

    /// <summary>
    /// After a received packet: starts a migration that waited for what the packet may have brought, opens streams
    /// the peer now allows (MAX_STREAMS) and moves waiting writes into send buffers that acknowledgements made room in.
    /// </summary>
    internal void ResumeBlockedWork()
    {
        _migration.RetryStart();

        if (_pendingOpens.Count > 0)
        {
            OpenPendingStreams();
        }

        if (_blockedWriters.Count == 0)
        {
            return;
        }

        _blockedIteration.AddRange(_blockedWriters);
        try
        {
            foreach (var stream in _blockedIteration)
            {
                MoveWritesToSendBuffer(stream);
            }
        }
        finally
        {
            _blockedIteration.Clear();
        }
    }

    /// <summary>Returns receive credit for consumed (or discarded) bytes (loop thread).</summary>
    internal void ExtendCredit(long streamId, long bytes)
    {
        _endpoint.AssertOnLoopThread();
        if (IsTerminated || bytes <= 0)
        {
            return;
        }

        var rv = QuicShim.ConnExtendCredit(Handle, streamId, (ulong)bytes);
        if (rv != 0)
        {
            throw new QuicConnectionException($"Cannot extend the flow-control credit of stream {streamId}: {QuicShim.Describe(rv)}") { NativeError = rv };
        }
    }

    /// <summary>
    /// One of the peer's streams is closed and the application accepted it (loop thread): the peer may open
    /// another. Granting only then bounds the streams queued for AcceptStreamAsync by the stream limit, even
    /// against a peer that opens and resets streams in a loop.
    /// </summary>
    internal void ReturnStreamSlot(long streamId)
    {
        _endpoint.AssertOnLoopThread();
        if (!IsTerminated)
        {
            QuicShim.ConnExtendMaxStreams(Handle, (streamId & 0x2) == 0 ? 1 : 0, 1);
        }
    }

    /// <summary>Posts work to the loop thread; throws <see cref="ObjectDisposedException"/> if the endpoint is gone.</summary>
    internal void PostOrThrow(Action work) => _endpoint.Post(work);

    internal void Post(Action work)
    {
        try
        {
            _endpoint.Post(work);
        }
        catch (ObjectDisposedException)
        {
            // The endpoint is gone, and with it the connection: there is no credit left to return.
        }
    }

    private void OpenPendingStreams()
    {
        while (_pendingOpens.TryPeek(out var open))
        {
            if (open.Task.IsCompleted)
            {
                // Cancelled while waiting.
                _pendingOpens.Dequeue();
                continue;
            }

            var id = QuicShim.ConnOpenBidiStream(Handle);
            if (id == QuicShim.ErrorStreamIdBlocked)
            {
                return;
            }

            _pendingOpens.Dequeue();
            if (id < 0)
            {
                open.TrySetException(new QuicConnectionException($"Cannot open a stream: {QuicShim.Describe((int)id)}") { NativeError = (int)id });
                continue;
            }

            var stream = new QuicStream(this, id);
            _streams[id] = stream;
            if (!open.TrySetResult(stream))
            {
                // Cancelled just now: the stream exists, so end it rather than leak its slot.
                _ = QuicShim.ConnStreamShutdown(Handle, id, 0, (uint)QuicAbortDirection.Both);
            }
        }
    }

    private void UpdateBlocked(QuicStream stream, bool blocked)
    {
        if (blocked)
        {
            _blockedWriters.Add(stream);
        }
        else
        {
            _blockedWriters.Remove(stream);
        }
    }

    internal Task AbortStreamAsync(QuicStream stream, long errorCode, QuicAbortDirection direction, CancellationToken cancellationToken)
    {
        if ((direction & QuicAbortDirection.Both) == 0 || (direction & ~QuicAbortDirection.Both) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(direction), direction, "Abort Read, Write or Both.");
        }

        return _endpoint.InvokeAsync(() =>
        {
            ThrowIfTerminated();
            var rv = QuicShim.ConnStreamShutdown(Handle, stream.Id, (ulong)errorCode, (uint)direction);
            if (rv != 0)
            {
                throw new QuicConnectionException($"Cannot abort stream {stream.Id}: {QuicShim.Describe(rv)}") { NativeError = rv };
            }

            if (direction.HasFlag(QuicAbortDirection.Read))
            {
                stream.CompleteInput(new QuicStreamAbortedException(stream.Id, errorCode, byPeer: false, "reading was aborted locally"));
            }

            if (direction.HasFlag(QuicAbortDirection.Write))
            {
                _blockedWriters.Remove(stream);
                stream.EndWrites(new QuicStreamAbortedException(stream.Id, errorCode, byPeer: false, "sending was aborted locally"));
            }

            return true;
        }, cancellationToken);
    }

    internal void Attach(SafeQuicConnectionHandle handle)
    {
        _handle = handle;
        _migration.InitializePath();
    }

    internal void BeginClosingPeriod(ulong until, byte[]? closeDatagram)
    {
        ClosingUntil = until;
        CloseDatagram = closeDatagram;
    }

    internal void AddLocalConnectionId(ConnectionId cid) => _localCids.Add(cid);

    // ---- callbacks (loop thread, inside a shim call) ----

    internal void OnHandshakeCompleted()
    {
        unsafe
        {
            Span<byte> hash = stackalloc byte[QuicShim.SpkiHashSize];
            fixed (byte* h = hash)
            {
                if (QuicShim.ConnGetPeerSpkiSha256(Handle, h) == 1)
                {
                    RemoteNodeId = new NodeId(hash);
                }
            }

            Span<byte> alpn = stackalloc byte[256];
            fixed (byte* a = alpn)
            {
                var length = (int)QuicShim.ConnGetAlpn(Handle, a, (nuint)alpn.Length);
                NegotiatedAlpn = length > 0 ? Encoding.ASCII.GetString(alpn[..length]) : null;
            }
        }

        MaxDatagramSize = (int)Math.Min(QuicShim.ConnMaxDatagramPayload(Handle), int.MaxValue);
        _pathProber.DeriveKey();
        _endpoint.OnHandshakeCompleted(this);
        _handshake.TrySetResult();
    }

    internal void OnStreamOpen(long streamId)
    {
        if (_streams.ContainsKey(streamId))
        {
            return;
        }

        var stream = new QuicStream(this, streamId);
        _streams[streamId] = stream;
        _incomingStreams.Writer.TryWrite(stream);
    }

    internal void OnStreamData(long streamId, ReadOnlySpan<byte> data, bool fin)
    {
        if (_streams.TryGetValue(streamId, out var stream))
        {
            stream.OnData(data, fin);
        }
        else
        {
            // A stream we no longer track: nobody reads it, but the connection's credit must come back.
            ExtendCredit(-1, data.Length);
        }
    }

    internal void OnStreamClose(long streamId, bool applicationErrorSet, ulong applicationErrorCode)
    {
        if (_streams.Remove(streamId, out var stream))
        {
            stream.OnTransportClosed();
            _blockedWriters.Remove(stream);
            stream.EndWrites(new QuicStreamAbortedException(streamId, applicationErrorSet ? (long)applicationErrorCode : null, byPeer: true, "the stream is closed"));
            stream.CompleteInput(applicationErrorSet && applicationErrorCode != 0
                ? new QuicStreamAbortedException(streamId, (long)applicationErrorCode, byPeer: true, "the stream was reset")
                : null);
        }
    }

    internal void OnStreamReset(long streamId, ulong applicationErrorCode)
    {
        if (_streams.TryGetValue(streamId, out var stream))
        {
            stream.CompleteInput(new QuicStreamAbortedException(streamId, (long)applicationErrorCode, byPeer: true, "the peer reset its sending side (RESET_STREAM)"));
        }
    }

    internal void OnStreamSendStopped(long streamId)
    {
        if (_streams.TryGetValue(streamId, out var stream))
        {
            _blockedWriters.Remove(stream);
            stream.EndWrites(new QuicStreamAbortedException(streamId, null, byPeer: true, "the peer asked us to stop sending (STOP_SENDING)"));
        }
    }

    internal void OnNewConnectionId(Span<byte> cid, Span<byte> token)
    {
        var id = _endpoint.IssueConnectionId(cid.Length);
        if (!_endpoint.TryRegister(id, this))
        {
            // Fails the connection (the callback reports it) rather than leave a CID the peer may use unrouted.
            throw _endpoint.ConnectionIdTableFull();
        }

        _localCids.Add(id);
        id.Span.CopyTo(cid);
        _endpoint.StatelessResetToken(id, token);
    }

    internal void OnRemoveConnectionId(ReadOnlySpan<byte> cid)
    {
        var id = new ConnectionId(cid);
        _localCids.Remove(id);
        _endpoint.Unregister(id, this);
    }

    internal void OnDatagram(ReadOnlySpan<byte> data)
    {
        if (_datagramReceiver is { } receiver)
        {
            receiver.OnDatagram(this, data);
            return;
        }

        if (!_datagrams.Writer.TryWrite(data.ToArray()))
        {
            Interlocked.Increment(ref _datagramsDroppedOnReceive);
        }
    }

    private PacketQueue CreateDatagramQueue()
    {
        Interlocked.CompareExchange(ref _datagramQueue, new PacketQueue(DatagramQueueCapacity, DatagramSlotSize), null);
        return _datagramQueue;
    }

    /// <summary>
    /// Loop thread, posted by a sender: nothing to do but let the next sender post again; the turn this wake-up
    /// runs ends with the packet write that moves the datagrams (<see cref="MoveQueuedDatagrams"/>).
    /// </summary>
    private void OnWokenForDatagrams()
    {
        _endpoint.AssertOnLoopThread();
        Volatile.Write(ref _wakeForDatagramsPosted, 0);
    }

    /// <summary>
    /// Loop thread, before each packet write: moves queued datagrams into the engine, no more than
    /// <see cref="EngineDatagramBacklog"/> waiting there. The rest stay in the slot queue, so when the congestion window
    /// holds packets back the queue fills and a waiting sender (<see cref="SendDatagram"/>) slows down, instead of
    /// the engine's queue growing into seconds of delay.
    /// </summary>
    internal void MoveQueuedDatagrams()
    {
        if (_datagramQueue is not { Count: > 0 } queue)
        {
            // Path MTU discovery may have raised what fits since: a sender whose first DATAGRAM was too large for the
            // handshake's packet size reads the new limit here, not only once something was queued.
            if (MaxDatagramSize is > 0 and < MaxDatagramSizeAfterDiscovery)
            {
                MaxDatagramSize = (int)Math.Min(QuicShim.ConnMaxDatagramPayload(Handle), int.MaxValue);
            }

            return;
        }

        var room = EngineDatagramBacklog - (int)QuicShim.ConnDatagramsQueued(Handle);
        queue.Drain(this, static (connection, datagram) => connection.QueueDatagram(datagram), room);

        // Path MTU discovery raises what fits a packet after the handshake; senders read it before each packet.
        MaxDatagramSize = (int)Math.Min(QuicShim.ConnMaxDatagramPayload(Handle), int.MaxValue);
    }

    private unsafe void QueueDatagram(ReadOnlySpan<byte> datagram)
    {
        int rv;
        fixed (byte* d = datagram)
        {
            rv = QuicShim.ConnSendDatagram(Handle, d, (nuint)datagram.Length);
        }

        // Full, or too large for a path that shrank: an unreliable datagram is dropped, not an error.
        if (rv != 0)
        {
            Interlocked.Increment(ref _datagramsDroppedOnSend);
        }
    }

    internal void OnPathValidation(bool succeeded, PeerAddress local, PeerAddress remote) =>
        _migration.OnPathValidation(succeeded, local, remote);

    internal void OnPathChanged(PeerAddress local, PeerAddress remote) => _migration.OnPathChanged(local, remote);

    internal void RecordCallbackFailure(Exception e) => _callbackFailure ??= e;

    // ---- failure and end (loop thread) ----

    /// <summary>Turns a failed shim call into the exception the application sees.</summary>
    internal QuicConnectionException DescribeFailure(int error)
    {
        if (error == QuicShim.ErrorPinMismatch)
        {
            var actual = PeerNodeIdSeen();
            return new QuicConnectionException(
                $"TLS peer pinning failed: expected peer NodeId {_expectedPeer}, but the peer presented NodeId {actual?.ToString() ?? "(no certificate)"}.")
            {
                NativeError = error,
                IsPinMismatch = true,
            };
        }

        if (_callbackFailure is not null)
        {
            return new QuicConnectionException($"A connection callback failed: {_callbackFailure.Message}", _callbackFailure) { NativeError = error };
        }

        if (error == QuicShim.ErrorHandshakeTimeout)
        {
            return new QuicConnectionException("The handshake did not complete within QuicEndpointOptions.HandshakeTimeout.") { NativeError = error, IsUnanswered = true };
        }

        if (error == QuicShim.ErrorDraining)
        {
            var (description, applicationCode, reasonPhrase) = DescribePeerClose();
            return new QuicConnectionException($"The peer closed the connection: {description}")
            {
                NativeError = error,
                PeerApplicationErrorCode = applicationCode,
                PeerReasonPhrase = reasonPhrase,
            };
        }

        var alert = QuicShim.ConnGetTlsAlert(Handle);
        var tls = alert != 0 ? $" (TLS alert {alert}: {TlsAlerts.Name(alert)})" : string.Empty;
        return new QuicConnectionException($"QUIC connection failed: {QuicShim.Describe(error)}{tls}.") { NativeError = error, IsUnanswered = error == QuicShim.ErrorIdleClose };
    }

    private NodeId? PeerNodeIdSeen()
    {
        unsafe
        {
            Span<byte> hash = stackalloc byte[QuicShim.SpkiHashSize];
            fixed (byte* h = hash)
            {
                return QuicShim.ConnGetPeerSpkiSha256(Handle, h) == 1 ? new NodeId(hash) : null;
            }
        }
    }

    private (string Description, long? ApplicationCode, string? ReasonPhrase) DescribePeerClose()
    {
        unsafe
        {
            Span<byte> reason = stackalloc byte[256];
            fixed (byte* r = reason)
            {
                var length = (int)QuicShim.ConnGetCloseError(Handle, out var type, out var code, r, (nuint)reason.Length);
                var phrase = length > 0 ? Encoding.UTF8.GetString(reason[..length]) : null;
                var text = phrase is not null ? $", reason \"{phrase}\"" : string.Empty;
                if (type == 1)
                {
                    return ($"application error {code}{text}", (long)code, phrase);
                }

                if (code is >= 0x100 and <= 0x1ff)
                {
                    var alert = (int)(code - 0x100);
                    var hint = alert is 42 or 116 ? " - it rejected our certificate; does the peer pin our NodeId?" : string.Empty;
                    return ($"TLS alert {alert} ({TlsAlerts.Name(alert)}){hint}{text}", null, phrase);
                }

                return ($"transport error 0x{code:x}{text}", null, phrase);
            }
        }
    }

    /// <summary>Ends the connection: fails or completes everything waiting on it and frees the native side.</summary>
    internal void Terminate(QuicConnectionException? error, string? reason = null)
    {
        if (IsTerminated)
        {
            return;
        }

        if (_handle is not null)
        {
            _finalStats = ReadStats();
        }

        CloseReason = reason ?? error?.Message ?? "The connection ended.";
        IsTerminated = true;
        _endpoint.OnTerminated(this);
        var writeError = error ?? new QuicConnectionException("The connection has ended.");
        foreach (var stream in _streams.Values)
        {
            // A stream still open here never got its FIN: ending its Input without an error would pass a
            // truncated stream off as a complete one (tunnels would forward a clean TCP FIN).
            stream.CompleteInput(writeError);
            stream.FailWrites(writeError);
            stream.FailCompletion(writeError);
        }

        _blockedWriters.Clear();
        _migration.FailPending(writeError);
        while (_pendingOpens.TryDequeue(out var open))
        {
            open.TrySetException(error ?? new QuicConnectionException("The connection has ended."));
        }

        _streams.Clear();
        _incomingStreams.Writer.TryComplete(error);
        _datagrams.Writer.TryComplete(error);
        _datagramQueue?.Clear();
        MaxDatagramSize = 0;
        var handshakeError = error ?? new QuicConnectionException("The connection closed before its handshake completed.");
        if (!_handshake.Task.IsCompleted)
        {
            _handshake.TrySetException(handshakeError);
            if (IsServer)
            {
                _endpoint.OnIncomingFailed(this, handshakeError);
            }
        }

        if (error is null)
        {
            _closed.TrySetResult();
        }
        else
        {
            _closed.TrySetException(error);
        }

        _handle?.Dispose();
        _handle = null;
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }

    private void ThrowIfTerminated()
    {
        if (IsTerminated)
        {
            throw new QuicConnectionException("The connection has ended.");
        }
    }
}
