using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Diagnostics;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic.Internal;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic;

/// <summary>
/// QUIC connections over one UDP socket (its own, or one it shares through <see cref="QuicSharedSocket"/>),
/// driven by one loop thread: receive a batch, parse
/// headers (the dataplane's header stage), route each datagram by DCID to its connection, run expired timers,
/// and send what the connections produce as a batch (GSO when the socket has it).
/// </summary>
/// <remarks>
/// Routing is the dataplane's: our CIDs live in a <see cref="CidTable"/> as local routes naming a connection's
/// slot, the pipeline's CID lookup stage marks their packets Local, and the terminal step only resolves the slot.
/// Unknown CIDs stay pending for it: an Initial may start a connection, anything else goes to
/// <see cref="QuicEndpointOptions.UnroutableDatagramHandler"/>. Only the loop thread writes the table. Work from other
/// threads (connect, stream writes, close) is queued and wakes the loop (an empty datagram to itself on its own
/// socket, an event on a shared one). The class is partial only for the logging source generator.
/// </remarks>
public sealed partial class QuicEndpoint : IAsyncDisposable
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(100);

    // 256 blocks of 16 KiB: a 4 MiB backlog of received or queued bytes across the endpoint's streams is served
    // from reused blocks; beyond it blocks are created and, once returned to a full pool, left to the GC.
    private const int StreamBufferPoolCapacity = 256;

    /// <summary>
    /// CIDs of ours one connection may have routed at once: ngtcp2 keeps at most 8 in its pool (NGTCP2_MAX_SCID_POOL_SIZE,
    /// retired ones included until it removes them), and a server adds the DCID the client chose for its Initial.
    /// </summary>
    internal const int ConnectionIdsPerConnection = 9;

    // Replaced by RebindAsync, on the loop thread.
    private IDatagramPort _port;

    // Loop thread: the sockets that feed streams (QuicStream.TryFeedFrom) and the epoll set the port then waits in;
    // made at the first feed.
    private SocketFeeds? _feeds;

    // Counts the endpoint's sockets (Rebind replaces it): a send handle of another thread's own is renewed when it changes.
    private int _portGeneration;
    private readonly QuicEndpointOptions _options;
    private readonly NodeIdentity _identity;
    private readonly SafeQuicCredentialsHandle _credentials;
    private readonly byte[] _resetKey;

    // The protocols incoming connections may offer, as the shim takes them: names separated by NUL bytes.
    private readonly byte[] _serverAlpns;
    private readonly PacketBatch _receiveBatch = new();
    private readonly PacketBatch _sendBatch = new();
    private readonly DataplaneCounters _counters = new();

    // Loop thread only: the connections and streams that owe work once the batch being routed is done.
    private readonly ReceivedBatchWork _batchWork;

    // Loop thread only (its counters: any thread reads): our connections by probe id, and what was answered or dropped.
    private readonly PathProbeResponder _pathProbes;
    private readonly PacketDelegate _pipeline;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Action> _commands = new();

    // 1 from the first Post after the loop last looked at _commands until it looks again: later Posts need not wake
    // the loop (one wake-up datagram and one extra loop pass each) because it will drain their work anyway.
    private int _wakePending;

    // 1 while the loop may be blocked in its receive (set before its last look at _commands): only then does a Post
    // need to wake it. A busy loop drains the work at its next pass; waking it anyway cost a syscall for the wake-up
    // datagram and another to read it, for every packet a circuit hop or a DATAGRAM sender handed over.
    private int _waiting;
    private readonly Channel<QuicConnection> _accepted = Channel.CreateUnbounded<QuicConnection>();
    private readonly Thread _loop;

    // The endpoint's instruments (meter QuicPipe.Quic.Endpoint), from its start to its disposal.
    private readonly QuicEndpointMetrics _metrics;

    // Our CIDs -> local routes naming a connection's slot: the pipeline's lookup stage reads it, only the loop thread
    // writes it. Sized for every live and closing connection (each limited to MaxConnections) with all their CIDs, so
    // a full table means a peer or generator misbehaved: registering then fails instead of evicting another's CID.
    private readonly CidTable _cids;

    // Loop thread only: the connections by the slot their routes name, and the last RouteOwner handed out.
    private readonly ConnectionSlots _slots = new();
    private ulong _lastRouteOwner;

    // Loop thread only: every live connection.
    private readonly List<QuicConnection> _connections = [];

    // Loop thread only: RunOnce's copy of _connections (a step may end a connection, which removes it), reused so
    // that the loop does not allocate an array per iteration.
    private QuicConnection[] _iteration = [];

    // Loop thread only: ended connections whose CIDs still route here until their closing or draining period ends.
    private readonly List<QuicConnection> _closing = [];

    // Loop thread only: incoming connections created and neither past their handshake nor ended.
    private int _handshaking;

    // Loop thread only: open incoming handshakes by source address and /24 or /64 (the same ones _handshaking counts).
    private readonly SourceAddressLimiter _halfOpen;

    // Keys the Retry tokens this endpoint hands out and checks.
    private readonly byte[] _retrySecret = RandomNumberGenerator.GetBytes(32);
    private long _initialsUndecryptable;
    private long _refusedPerSource;
    private long _retriesSent;
    private long _retryTokensRejected;

    // Loop thread writes, any thread reads (the metrics): live connections now, and connections admitted since start.
    private int _liveConnections;
    private long _admittedConnections;
    private volatile bool _stopping;
    private long _unroutable;
    private long _refused;
    private long _closeRetransmissions;

    // Loop thread writes, any thread reads: what the loop thread has allocated in all (GC's per-thread count, only
    // with QuicEndpointOptions.TrackLoopAllocations) and the datagrams it has received, so tests and benchmarks can
    // check the steady state allocates nothing per packet.
    private long _loopAllocatedBytes;
    private long _loopReceivedDatagrams;
    private long _loopIterations;
    private long _loopAllocatingIterations;

    private QuicEndpoint(IDatagramPort port, QuicEndpointOptions options, Func<QuicEndpoint, PacketDelegate, PacketDelegate>? pipeline)
    {
        _port = port;
        _options = options;
        _identity = options.Identity!;
        _credentials = LoadCredentials(_identity);
        _resetKey = options.StatelessResetKey ?? RandomNumberGenerator.GetBytes(32);
        _serverAlpns = Encoding.ASCII.GetBytes(string.Join('\0', options.AdditionalServerAlpns.Prepend(options.ServerAlpn)));
        _cids = new CidTable(options.ConnectionIdTableCapacity ?? 2 * options.MaxConnections * ConnectionIdsPerConnection);
        _halfOpen = new SourceAddressLimiter(options.MaxHandshakingPerAddress, options.MaxHandshakingPerPrefix);
        _logger = options.LoggerFactory?.CreateLogger("QuicPipe.Quic") ?? NullLogger.Instance;
        _loop = new Thread(Run) { IsBackground = true, Name = $"quic {port.LocalAddress}" };
        _batchWork = new ReceivedBatchWork(this);
        _pathProbes = new PathProbeResponder(this);
        Liveness = new LoopLiveness(_loop.Name!);
        _metrics = new QuicEndpointMetrics(this);

        // Last: the composer may publish this endpoint before it builds the stages that look it up.
        _pipeline = pipeline is null ? DefaultPipeline(Route) : pipeline(this, Route);
    }

    /// <summary>The blocks behind every stream pipe of this endpoint's connections (see <see cref="StreamBufferPool"/>).</summary>
    internal StreamBufferPool StreamBuffers { get; } = new(StreamBufferPoolCapacity);

    /// <summary>Our CIDs, as local routes naming a connection's slot: what the local CID lookup stage reads.</summary>
    internal CidTable ConnectionIds => _cids;

    /// <summary>The bound address (with the port the kernel chose for port 0).</summary>
    public IPEndPoint LocalEndPoint => _port.LocalAddress.ToEndPoint();

    /// <summary>Datagrams that matched no connection and could not start one (garbage, stale, unknown CIDs).</summary>
    public long UnroutableDatagrams => Interlocked.Read(ref _unroutable);

    /// <summary>Incoming Initials dropped because <see cref="QuicEndpointOptions.MaxHandshakingConnections"/> or <see cref="QuicEndpointOptions.MaxConnections"/> was reached.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>
    /// Client Initials dropped before anything was created for them: not a QUIC v1 Initial, or its first packet does not
    /// decrypt with the keys of its DCID (garbage shaped like an Initial).
    /// </summary>
    public long InitialsUndecryptable => Interlocked.Read(ref _initialsUndecryptable);

    /// <summary>
    /// Incoming Initials dropped because their source address or its /24 or /64 had its
    /// <see cref="QuicEndpointOptions.MaxHandshakingPerAddress"/> or <see cref="QuicEndpointOptions.MaxHandshakingPerPrefix"/> handshakes open.
    /// </summary>
    public long HandshakesRefusedPerSource => Interlocked.Read(ref _refusedPerSource);

    /// <summary>Retry packets sent (<see cref="QuicEndpointOptions.Retry"/>).</summary>
    public long RetriesSent => Interlocked.Read(ref _retriesSent);

    /// <summary>Initials dropped because their token was not a valid Retry token of ours (forged, expired, another address).</summary>
    public long RetryTokensRejected => Interlocked.Read(ref _retryTokensRejected);

    /// <summary>CONNECTION_CLOSE datagrams re-sent in answer to packets that arrived during a closing period.</summary>
    internal long CloseRetransmissions => Interlocked.Read(ref _closeRetransmissions);

    /// <summary>Connections live now (handshaking or established), as of the loop's last change.</summary>
    public int LiveConnections => Volatile.Read(ref _liveConnections);

    /// <summary>Connections admitted (dialed, or accepted past the handshake limits) since start.</summary>
    public long AdmittedConnections => Volatile.Read(ref _admittedConnections);

    /// <summary>The endpoint's instruments (tests listen to its meter alone).</summary>
    internal QuicEndpointMetrics Metrics => _metrics;

    /// <summary>Whether the engine loop still runs: what a liveness check (<c>/healthz</c>) reads.</summary>
    public LoopLiveness Liveness { get; }

    /// <summary>Datagrams received and sent by the engine loop, and those it dropped, summed now.</summary>
    internal DataplaneCounters ReadPacketCounters()
    {
        var total = new DataplaneCounters();
        _counters.AddTo(total);
        return total;
    }

    /// <summary>Path probes of our connections' peers answered since start.</summary>
    public long PathProbesAnswered => _pathProbes.Answered;

    /// <summary>
    /// Datagrams shaped like path probes that were dropped unanswered since start: unknown probe id (no live
    /// connection of ours), wrong key or version, or an answer to no probe of ours (late, or from another address).
    /// </summary>
    public long PathProbesDropped => _pathProbes.Dropped;

    /// <summary>Answers and routes path probes (<see cref="QuicConnection.ProbePathAsync"/>): what the path probe stage calls.</summary>
    internal PathProbeResponder PathProbes => _pathProbes;

    /// <summary>Bytes the loop thread has allocated since it started, as of its last loop iteration (0 unless QuicEndpointOptions.TrackLoopAllocations).</summary>
    internal long LoopAllocatedBytes => Interlocked.Read(ref _loopAllocatedBytes);

    /// <summary>Datagrams the loop thread has received (wake-ups included), as of its last loop iteration.</summary>
    internal long LoopReceivedDatagrams => Interlocked.Read(ref _loopReceivedDatagrams);

    /// <summary>Loop iterations run (each: commands, timers and flushes, one receive), as of the last one.</summary>
    internal long LoopIterations => Interlocked.Read(ref _loopIterations);

    /// <summary>Loop iterations in which the loop thread allocated anything: a per-iteration allocation makes it all of them.</summary>
    internal long LoopAllocatingIterations => Interlocked.Read(ref _loopAllocatingIterations);

    /// <summary>An incoming connection failed its handshake (raised on the loop thread; keep handlers short).</summary>
    public event EventHandler<QuicConnectionFailedEventArgs>? ConnectionFailed;

    /// <summary>Binds the UDP socket and starts the loop thread.</summary>
    public static QuicEndpoint Bind(IPEndPoint local, QuicEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NativeCallbacks.EnsureRegistered();
        var socket = UdpBatchSocket.Bind(PeerAddress.FromEndPoint(local), new UdpSocketOptions { ReusePort = false, ReceiveTimeout = MaxWait });
        return Start(new SocketDatagramPort(socket, ownsSocket: true), options, pipeline: null);
    }

    /// <summary>
    /// Starts an endpoint that receives on <paramref name="socket"/>, which stays its owner's (a server's UDP
    /// listener: see <see cref="QuicListenerBuilderExtensions.RunQuicEndpoint"/>), with the packet stages
    /// <paramref name="pipeline"/> composes in front of the endpoint's terminal step (delivery to connections,
    /// accepting Initials, the unroutable rest). The stages run on the endpoint's loop thread.
    /// </summary>
    internal static QuicEndpoint RunOn(UdpBatchSocket socket, QuicEndpointOptions options, Func<QuicEndpoint, PacketDelegate, PacketDelegate> pipeline)
    {
        options.Validate();
        NativeCallbacks.EnsureRegistered();
        return Start(new SocketDatagramPort(socket, ownsSocket: false), options, pipeline);
    }

    /// <summary>
    /// Starts an endpoint on a socket another component receives from (the relay's listener), which hands over
    /// the datagrams meant for this endpoint. The endpoint takes ownership of <paramref name="socket"/> (the
    /// sending duplicate; the owner's socket stays open).
    /// </summary>
    public static QuicEndpoint Attach(QuicSharedSocket socket, QuicEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NativeCallbacks.EnsureRegistered();
        var endpoint = Start(socket, options, pipeline: null);
        socket.KnownConnectionIds = endpoint._cids;
        return endpoint;
    }

    /// <summary>
    /// Starts an endpoint without a socket: its packets go through <paramref name="socket"/>'s carrier (a circuit
    /// through other nodes, say), which hands over what arrives. The endpoint takes ownership of
    /// <paramref name="socket"/>. <see cref="RebindAsync"/> does not apply to it.
    /// </summary>
    public static QuicEndpoint Attach(QuicVirtualSocket socket, QuicEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        NativeCallbacks.EnsureRegistered();
        return Start(socket, options, pipeline: null);
    }

    private static QuicEndpoint Start(IDatagramPort port, QuicEndpointOptions options, Func<QuicEndpoint, PacketDelegate, PacketDelegate>? pipeline)
    {
        try
        {
            var endpoint = new QuicEndpoint(port, options, pipeline);
            endpoint._loop.Start();
            return endpoint;
        }
        catch
        {
            port.Dispose();
            throw;
        }
    }

    /// <summary>Dials <paramref name="remote"/> and completes once the handshake (with the pin check) succeeded.</summary>
    /// <exception cref="QuicConnectionException">The handshake failed; the message says why (e.g. expected vs actual NodeId).</exception>
    public async Task<QuicConnection> ConnectAsync(IPEndPoint remote, QuicClientConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var remoteAddress = PeerAddress.FromEndPoint(remote);
        var connection = await InvokeAsync(() => StartClient(remoteAddress, options), cancellationToken).ConfigureAwait(false);
        using (cancellationToken.Register(() => Post(() => connection.Terminate(new QuicConnectionException("The connect was cancelled.")))))
        {
            await connection.Handshake.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return connection;
    }

    /// <summary>
    /// Replaces the UDP socket with a new one on the same address and a new ephemeral port, and migrates every
    /// client connection to it (RFC 9000 §9.2): each switches at once, with a fresh CID of its peer's, and validates
    /// the new path; the peer follows. Streams survive: packets lost in the switch are retransmitted. Completes once
    /// every connection's peer answered on the new port (<see cref="QuicConnection.PathChanged"/> with
    /// <see cref="QuicPathChangeReason.Migrated"/> on each). <see cref="LocalEndPoint"/> is the new address.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The endpoint has incoming (server) connections, which a server cannot migrate and would cut off; or it runs
    /// on a socket it shares (<see cref="Attach(QuicSharedSocket, QuicEndpointOptions)"/>) and does not own.
    /// </exception>
    /// <exception cref="QuicConnectionException">A connection could not migrate or its new path failed validation.</exception>
    public async Task RebindAsync(CancellationToken cancellationToken = default)
    {
        var migrations = await InvokeAsync(() => Rebind(cancellationToken), cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(migrations).ConfigureAwait(false);
    }

    /// <summary>Waits for an incoming connection whose handshake (and client pin) succeeded.</summary>
    public ValueTask<QuicConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (!_options.AcceptIncoming)
        {
            throw new InvalidOperationException("This endpoint does not accept connections (QuicEndpointOptions.AcceptIncoming).");
        }

        return _accepted.Reader.ReadAsync(cancellationToken);
    }

    /// <summary>
    /// Sends one datagram that belongs to no connection from the endpoint's socket (hole-punch probes: they must
    /// leave from the address the connections use, so that NATs map them alike). Safe from any thread, the
    /// loop thread included (e.g. an <see cref="QuicEndpointOptions.UnroutableDatagramHandler"/> answering a probe).
    /// </summary>
    /// <returns>False if the kernel refused it (unreachable, buffer full) or the endpoint is closed; nothing is retried.</returns>
    public bool TrySendUnconnected(ReadOnlySpan<byte> datagram, in PeerAddress destination)
    {
        if (_stopping)
        {
            return false;
        }

        try
        {
            _port.SendTo(datagram, destination);
            return true;
        }
        catch (Exception e) when (e is UdpSocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// <see cref="TrySendUnconnected(ReadOnlySpan{byte}, in PeerAddress)"/> with an IP TTL (IPv6 hop limit) of this
    /// datagram's own, 1 to 255; the socket's default stays as it is for everything else it sends.
    /// </summary>
    public bool TrySendUnconnected(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hopLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hopLimit, 255);
        if (_stopping)
        {
            return false;
        }

        try
        {
            _port.SendTo(datagram, destination, hopLimit);
            return true;
        }
        catch (Exception e) when (e is UdpSocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// A send handle on the endpoint's socket for another thread (<see cref="UnprotectedDatagramBatch"/>), and the
    /// socket's generation, which changes when <see cref="RebindAsync"/> replaces it; null when the endpoint has no
    /// socket of its own.
    /// </summary>
    internal (UdpBatchSocket? Socket, int Generation) DuplicateSocketForSending()
    {
        var generation = Volatile.Read(ref _portGeneration);
        try
        {
            return (_port is SocketDatagramPort port ? port.Socket.DuplicateForSending() : null, generation);
        }
        catch (Exception e) when (e is UdpSocketException or ObjectDisposedException)
        {
            return (null, generation);
        }
    }

    internal int PortGeneration => Volatile.Read(ref _portGeneration);

    /// <summary>Whether streams of this endpoint can take socket feeds: it receives on a socket of its own (any thread).</summary>
    internal bool CanWatchSockets => EpollSet.IsSupported && Volatile.Read(ref _port) is SocketDatagramPort;

    /// <summary>Loop thread: where socket feeds read into.</summary>
    internal byte[] FeedScratch => _feeds!.Scratch;

    /// <summary>Loop thread: the loop waits on <paramref name="feed"/>'s socket too from now on.</summary>
    internal void Watch(QuicSocketFeed feed)
    {
        AssertOnLoopThread();
        if (_feeds is null)
        {
            _feeds = new SocketFeeds();
            ((SocketDatagramPort)_port).UseFeeds(_feeds);
        }

        _feeds.Add(feed);
    }

    /// <summary>Loop thread (or no loop any more): stops waiting on <paramref name="feed"/>'s socket.</summary>
    internal void Unwatch(QuicSocketFeed feed) => _feeds?.Remove(feed);

    /// <summary>Live, handshaking (incoming) and closing-or-draining connections, read on the loop thread.</summary>
    internal Task<(int Live, int Handshaking, int Closing)> GetConnectionCountsAsync() =>
        InvokeAsync(() => (_connections.Count, _handshaking, _closing.Count), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _port.Shutdown();
        await Task.Run(() => _loop.Join()).ConfigureAwait(false);
        foreach (var connection in _connections.ToArray())
        {
            connection.Terminate(new QuicConnectionException("The endpoint was disposed."));
        }

        _accepted.Writer.TryComplete();
        _feeds?.Dispose();
        _port.Dispose();

        // Last: every connection's TLS session borrowed it.
        _credentials.Dispose();
        _metrics.Dispose();
    }

    /// <summary>
    /// The endpoint's own stages, when it receives on a socket of its own or from a hand-over queue: parse headers,
    /// find our connections by CID, answer path probes; then <paramref name="terminal"/>. A server's UDP listener
    /// composes the same list where it can be read (<see cref="QuicListenerBuilderExtensions.RunQuicEndpoint"/>).
    /// </summary>
    private PacketDelegate DefaultPipeline(PacketDelegate terminal) => new PipelineBuilder()
        .UseQuicHeaderParsing(_options.ConnectionIdLength)
        .UseLocalCidLookup(_cids)
        .Use(next => new PathProbeStage(next, this).Invoke)
        .Run(terminal)
        .Build();

    // ---- cross-thread work ----

    internal Task<T> InvokeAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (cancellationToken.IsCancellationRequested)
            {
                completion.TrySetCanceled(cancellationToken);
                return;
            }

            try
            {
                completion.TrySetResult(work());
            }
            catch (Exception e)
            {
                completion.TrySetException(e);
            }
        });
        return completion.Task;
    }

    internal void Post(Action work)
    {
        if (_stopping)
        {
            throw new ObjectDisposedException(nameof(QuicEndpoint));
        }

        _commands.Enqueue(work);

        // The loop sets _waiting and then looks at the queue; we enqueue and then look at _waiting: with a full fence
        // on each side, either it sees the work (and does not wait) or we see it waiting (and wake it).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _waiting) != 0 && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _port.Wake();
        }
    }

    // ---- the loop ----

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                try
                {
                    RunOnce();
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A bug in one step must not kill every connection; the faulty connection was already failed.
                    LogLoopStepFailed(_logger, LocalEndPoint, e);
                }
            }
        }
        catch (Exception e) when (!_stopping)
        {
            // Out of memory: no connection can be trusted to make progress. Say so where a liveness check reads it and
            // end the thread, rather than end the process with an unhandled exception.
            Liveness.MarkDead(e);
            LogLoopDied(_logger, LocalEndPoint, e);
        }
    }

    private void RunOnce()
    {
        // A full fence before the queue is read: work posted after this point finds the flag clear and wakes us.
        Interlocked.Exchange(ref _wakePending, 0);
        while (_commands.TryDequeue(out var work))
        {
            work();
        }

        var now = MonotonicClock.NowNanoseconds();
        var next = ulong.MaxValue;
        for (var i = _closing.Count - 1; i >= 0; i--)
        {
            var closed = _closing[i];
            if (closed.ClosingUntil <= now)
            {
                _closing.RemoveAt(i);
                UnregisterAll(closed);
            }
            else
            {
                next = Math.Min(next, closed.ClosingUntil);
            }
        }

        var count = _connections.Count;
        if (_iteration.Length < count)
        {
            _iteration = new QuicConnection[Math.Max(count, _iteration.Length * 2)];
        }

        _connections.CopyTo(_iteration);
        for (var i = 0; i < count; i++)
        {
            // Not kept past this iteration, so an ended connection does not stay reachable from here (only a
            // step that throws, caught in Run, can leave a few behind until a later copy overwrites them).
            var connection = _iteration[i];
            _iteration[i] = null!;
            if (connection.IsTerminated)
            {
                continue;
            }

            var expiry = QuicShim.ConnGetExpiry(connection.Handle);
            if (expiry <= now)
            {
                var rv = QuicShim.ConnHandleExpiry(connection.Handle, now);
                if (rv != 0)
                {
                    Fail(connection, rv, now);
                    continue;
                }
            }

            Flush(connection, now);
            if (!connection.IsTerminated)
            {
                next = Math.Min(next, QuicShim.ConnGetExpiry(connection.Handle));
            }
        }

        var wait = next == ulong.MaxValue ? MaxWait : TimeSpan.FromTicks((long)Math.Min((next - Math.Min(next, now)) / 100, (ulong)MaxWait.Ticks));
        Interlocked.Exchange(ref _waiting, 1);
        if (!_commands.IsEmpty)
        {
            wait = TimeSpan.Zero;
        }

        var received = _port.Receive(_receiveBatch, _counters, wait);
        Volatile.Write(ref _waiting, 0);
        if (received > 0)
        {
            _pipeline(_receiveBatch);
            _batchWork.Finish();
            Volatile.Write(ref _loopReceivedDatagrams, _loopReceivedDatagrams + received);
        }

        // After the packets, whose acknowledgements may have made room in the feeds' send buffers.
        _feeds?.DrainReady();

        // No batch is being routed now, so connection slots released during this iteration may be reused.
        _slots.RecycleReleased();

        // Only when a test or benchmark asked (QuicEndpointOptions.TrackLoopAllocations); published last so a
        // reader sees this iteration's packets.
        if (_options.TrackLoopAllocations)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            if (allocated != _loopAllocatedBytes)
            {
                Volatile.Write(ref _loopAllocatingIterations, _loopAllocatingIterations + 1);
            }

            Volatile.Write(ref _loopAllocatedBytes, allocated);
        }

        Volatile.Write(ref _loopIterations, _loopIterations + 1);
    }

    /// <summary>
    /// The pipeline's terminal step: hand each datagram the CID lookup marked Local to the connection in its slot, and
    /// decide for the rest (pending: a parsed header with a CID we do not know).
    /// </summary>
    private void Route(PacketBatch batch)
    {
        AssertOnLoopThread();
        var now = MonotonicClock.NowNanoseconds();
        var passedOn = false;
        for (var i = 0; i < batch.Count; i++)
        {
            var verdict = batch.Verdicts[i];

            // An empty slot means the connection was released earlier in this batch: its CIDs are gone, so the
            // packet is treated as the miss it now is, below.
            if (verdict == PacketVerdict.Local && _slots[batch.LocalSlots[i]] is { } connection)
            {
                if (connection.IsTerminated)
                {
                    AnswerClosed(connection, batch.Sources[i]);
                }
                else if (connection.Unprotected.Carries(batch.Payload(i), batch.Headers[i].Dcid.Length))
                {
                    passedOn |= TakeUnprotected(batch, i, connection);
                }
                else
                {
                    Deliver(connection, batch.Payload(i), batch.Sources[i], now);
                }

                continue;
            }

            if (verdict == PacketVerdict.Consumed)
            {
                continue;
            }

            if (verdict is not (PacketVerdict.Pending or PacketVerdict.Local))
            {
                if (batch.Lengths[i] != 0)
                {
                    Unroutable(batch, i);
                }

                continue;
            }

            ref readonly var header = ref batch.Headers[i];
            if (_options.AcceptIncoming && header.Form == QuicHeaderForm.Long && header.Type == QuicPacketType.Initial && batch.Lengths[i] >= 1200)
            {
                AdmitInitial(batch.Payload(i), batch.Sources[i], header.Dcid, now);
            }
            else
            {
                Unroutable(batch, i);
            }
        }

        if (passedOn)
        {
            // Marked Forward by TakeUnprotected: they leave together, as a relay's do.
            _port.Send(batch, _counters);
        }
    }

    /// <summary>
    /// An unprotected datagram (<see cref="QuicConnection.TrySendUnprotectedDatagram"/>) for <paramref name="connection"/>:
    /// to its receiver, if it came on the connection's path; true when the receiver passed it on through another
    /// connection, whose header it now has and to whose path it is marked Forward.
    /// </summary>
    private bool TakeUnprotected(PacketBatch batch, int index, QuicConnection connection)
    {
        var path = connection.Unprotected;
        var headerLength = 1 + batch.Headers[index].Dcid.Length + UnprotectedPath.TagLength;
        if (path.Receiver is not { } receiver || !path.IsFromPeer(batch.Sources[index]))
        {
            path.CountRefused();
            return false;
        }

        var payloadLength = batch.Lengths[index] - headerLength;
        var slot = batch.Slot(index);
        if (receiver.OnUnprotectedDatagram(connection, slot.Slice(headerLength, payloadLength)) is not { } next)
        {
            return false;
        }

        if (next.Endpoint != this || next.IsTerminated || next.Unprotected.Current is not { } target || target.Header.Length + payloadLength > slot.Length)
        {
            next.Unprotected.CountRefused();
            return false;
        }

        // The payload moves when the two CIDs differ in length (neighbours registered at relays of different CID lengths).
        if (target.Header.Length != headerLength)
        {
            slot.Slice(headerLength, payloadLength).CopyTo(slot[target.Header.Length..]);
        }

        target.Header.CopyTo(slot);
        batch.Lengths[index] = target.Header.Length + payloadLength;
        batch.Forward(index, target.Remote);
        next.Unprotected.CountSent();
        return true;
    }

    /// <summary>
    /// A datagram for no connection (not QUIC, or a CID we do not know; path probes were taken by their stage): counted,
    /// then offered to <see cref="QuicEndpointOptions.UnroutableDatagramHandler"/> (hole-punch probes share this socket).
    /// </summary>
    private void Unroutable(PacketBatch batch, int index)
    {
        Interlocked.Increment(ref _unroutable);
        if (_options.UnroutableDatagramHandler is not { } handler)
        {
            return;
        }

        try
        {
            handler(batch.Payload(index), batch.Sources[index]);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The handler is someone else's code: its bug must not stop the loop that serves every connection.
            LogUnroutableHandlerFailed(_logger, LocalEndPoint, e);
        }
    }

    /// <summary>
    /// A packet for a connection in its closing period is answered with our CONNECTION_CLOSE again (RFC 9000
    /// §10.2.1), at exponentially falling rate (the 1st, 2nd, 4th, 8th... packet) so that it cannot be used to
    /// amplify; in the draining period nothing is sent.
    /// </summary>
    private void AnswerClosed(QuicConnection connection, in PeerAddress source)
    {
        var received = ++connection.PacketsWhileClosed;
        if (connection.CloseDatagram is not { } close || (received & (received - 1)) != 0)
        {
            return;
        }

        try
        {
            _port.SendTo(close, source);
            Interlocked.Increment(ref _closeRetransmissions);
        }
        catch (UdpSocketException)
        {
            // Best effort: the peer retransmits and gets another chance.
        }
    }

    private unsafe void Deliver(QuicConnection connection, ReadOnlySpan<byte> datagram, PeerAddress source, ulong now)
    {
        AssertOnLoopThread();
        var local = _port.LocalAddress;
        int rv;
        fixed (byte* packet = datagram)
        {
            rv = QuicShim.ConnReadPkt(connection.Handle, (byte*)&local, (uint)local.SockaddrLength, (byte*)&source, (uint)source.SockaddrLength, packet, (nuint)datagram.Length, now);
        }

        if (rv != 0)
        {
            Fail(connection, rv, now);
        }
        else
        {
            _batchWork.AnswerAfterBatch(connection);
        }
    }

    /// <summary>
    /// An Initial for no connection of ours: what may start one, cheapest refusals first, so that a flood of forged
    /// Initials costs a key derivation and an AEAD open each, never a connection. A source address (or /24, /64) that
    /// has its handshakes open already is refused before anything else (a replayer of valid Initials costs a lookup);
    /// then the Initial must decrypt with the keys of its DCID; then either carry a valid Retry token of ours, or get
    /// a Retry when <see cref="QuicEndpointOptions.Retry"/> asks for one; then fit the endpoint's handshake limits.
    /// </summary>
    private unsafe void AdmitInitial(ReadOnlySpan<byte> datagram, PeerAddress source, ConnectionId dcid, ulong now)
    {
        if (_halfOpen.Peek(source) != SourceLimitResult.Acquired)
        {
            Interlocked.Increment(ref _refusedPerSource);
            return;
        }

        int check;
        nuint tokenLength;
        fixed (byte* packet = datagram)
        {
            check = QuicShim.InitialCheck(packet, (nuint)datagram.Length, out _, out tokenLength);
        }

        if (check != 0)
        {
            Interlocked.Increment(ref _initialsUndecryptable);
            return;
        }

        ConnectionId? originalDcid = null;
        if (tokenLength > 0)
        {
            if (VerifyRetryToken(datagram, source, now) is not { } verified)
            {
                Interlocked.Increment(ref _retryTokensRejected);
                return;
            }

            originalDcid = verified;
        }
        else if (_options.Retry == QuicRetryMode.Always || (_options.Retry == QuicRetryMode.Auto && _handshaking >= _options.RetryThreshold))
        {
            SendRetry(datagram, source, now);
            return;
        }

        if (_handshaking >= _options.MaxHandshakingConnections || _connections.Count >= _options.MaxConnections)
        {
            Interlocked.Increment(ref _refused);
            return;
        }

        if (_halfOpen.TryAcquire(source) != SourceLimitResult.Acquired)
        {
            Interlocked.Increment(ref _refusedPerSource);
            return;
        }

        Accept(datagram, source, dcid, originalDcid, now);
    }

    /// <summary>The original DCID from the valid Retry token of <paramref name="datagram"/>, or null.</summary>
    private unsafe ConnectionId? VerifyRetryToken(ReadOnlySpan<byte> datagram, PeerAddress source, ulong now)
    {
        Span<byte> original = stackalloc byte[QuicShim.MaxConnectionIdLength];
        int rv;
        nuint length;
        fixed (byte* packet = datagram)
        fixed (byte* secret = _retrySecret)
        fixed (byte* o = original)
        {
            rv = QuicShim.RetryTokenVerify(packet, (nuint)datagram.Length, secret, (nuint)_retrySecret.Length, (byte*)&source, (uint)source.SockaddrLength, (ulong)_options.RetryTokenLifetime.Ticks * 100, now, o, out length);
        }

        return rv == 0 ? new ConnectionId(original[..(int)length]) : null;
    }

    /// <summary>
    /// Answers <paramref name="datagram"/> with a Retry whose token binds the source address: stateless, smaller than
    /// the Initial (no amplification), and only a client that receives at that address can come back with it.
    /// </summary>
    private unsafe void SendRetry(ReadOnlySpan<byte> datagram, PeerAddress source, ulong now)
    {
        var retryScid = IssueConnectionId(_options.ConnectionIdLength);
        Span<byte> packet = stackalloc byte[256];
        int written;
        fixed (byte* buffer = packet)
        fixed (byte* initial = datagram)
        fixed (byte* s = retryScid.Span)
        fixed (byte* secret = _retrySecret)
        {
            written = QuicShim.RetryWrite(buffer, (nuint)packet.Length, initial, (nuint)datagram.Length, s, (nuint)retryScid.Length, secret, (nuint)_retrySecret.Length, (byte*)&source, (uint)source.SockaddrLength, now);
        }

        if (written <= 0)
        {
            Interlocked.Increment(ref _initialsUndecryptable);
            return;
        }

        try
        {
            _port.SendTo(packet[..written], source);
            Interlocked.Increment(ref _retriesSent);
        }
        catch (UdpSocketException)
        {
            // Best effort: the client sends its Initial again.
        }
    }

    private unsafe void Accept(ReadOnlySpan<byte> datagram, PeerAddress source, ConnectionId dcid, ConnectionId? originalDcid, ulong now)
    {
        AssertOnLoopThread();
        NodeId? expected;
        if (_options.ExpectedClientSelector is { } select)
        {
            expected = select(originalDcid ?? dcid);
            if (expected is null)
            {
                _halfOpen.Release(source);
                Interlocked.Increment(ref _refused);
                return;
            }
        }
        else
        {
            expected = _options.AllowAnyClient ? null : _options.ExpectedClient;
        }

        var connection = new QuicConnection(this, isServer: true, source, expected) { HandshakeSource = source };

        // Counted, here and in _halfOpen, until its handshake completes or it ends (OnHandshakeCompleted / OnIncomingFailed).
        _handshaking++;
        var scid = IssueConnectionId(_options.ConnectionIdLength);
        Span<byte> token = stackalloc byte[QuicShim.StatelessResetTokenSize];
        StatelessResetToken(scid, token);
        var alpn = _serverAlpns;
        Span<byte> pin = stackalloc byte[NodeId.Size];
        expected?.Bytes.CopyTo(pin);
        var local = _port.LocalAddress;
        var config = ConnectionConfig();
        SafeQuicConnectionHandle handle;
        int error;
        var original = originalDcid ?? default;
        fixed (byte* packet = datagram)
        fixed (byte* o = original.Span)
        fixed (byte* s = scid.Span)
        fixed (byte* t = token)
        fixed (byte* a = alpn)
        fixed (byte* p = pin)
        {
            handle = QuicShim.ConnServerNew(packet, (nuint)datagram.Length, originalDcid is null ? null : o, (nuint)original.Length, s, (nuint)scid.Length, t, (byte*)&local, (uint)local.SockaddrLength, (byte*)&source, (uint)source.SockaddrLength, _credentials, a, (nuint)alpn.Length, expected is null ? null : p, &config, now, connection.UserPointer, out error);
        }

        if (handle.IsInvalid)
        {
            handle.Dispose();
            Interlocked.Increment(ref _unroutable);
            connection.Terminate(null);
            return;
        }

        connection.Attach(handle);
        Admit(connection);

        // Our CID, and the one the client's Initial carried (its own choice, or our Retry's): its retransmitted
        // Initials (and 0-RTT) still carry that.
        if (!TryAddLocalConnectionId(connection, scid) || !TryAddLocalConnectionId(connection, dcid))
        {
            Interlocked.Increment(ref _refused);
            connection.Terminate(ConnectionIdTableFull());
            return;
        }

        Deliver(connection, datagram, source, now);
    }

    private unsafe QuicConnection StartClient(PeerAddress remote, QuicClientConnectionOptions options)
    {
        AssertOnLoopThread();
        if (_connections.Count >= _options.MaxConnections)
        {
            throw new QuicConnectionException($"The endpoint already has {_connections.Count} connections (QuicEndpointOptions.MaxConnections).");
        }

        var connection = new QuicConnection(this, isServer: false, remote, options.ExpectedPeer);
        var dcid = options.InitialDestinationConnectionId ?? new ConnectionId(RandomNumberGenerator.GetBytes(Math.Max(8, _options.ConnectionIdLength)));
        var scid = options.SourceConnectionId ?? IssueConnectionId(_options.ConnectionIdLength);
        var alpn = Encoding.ASCII.GetBytes(options.Alpn);
        Span<byte> pin = stackalloc byte[NodeId.Size];
        options.ExpectedPeer?.Bytes.CopyTo(pin);
        var local = _port.LocalAddress;
        var now = MonotonicClock.NowNanoseconds();
        var config = ConnectionConfig();
        SafeQuicConnectionHandle handle;
        int error;
        fixed (byte* d = dcid.Span)
        fixed (byte* s = scid.Span)
        fixed (byte* a = alpn)
        fixed (byte* p = pin)
        {
            handle = QuicShim.ConnClientNew(d, (nuint)dcid.Length, s, (nuint)scid.Length, (byte*)&local, (uint)local.SockaddrLength, (byte*)&remote, (uint)remote.SockaddrLength, _credentials, a, (nuint)alpn.Length, options.ExpectedPeer is null ? null : p, &config, now, connection.UserPointer, out error);
        }

        if (handle.IsInvalid)
        {
            handle.Dispose();
            var failure = new QuicConnectionException($"Cannot create the connection: {QuicShim.Describe(error)}") { NativeError = error };
            connection.Terminate(failure);
            throw failure;
        }

        connection.Attach(handle);
        Admit(connection);
        if (!TryAddLocalConnectionId(connection, scid))
        {
            var full = ConnectionIdTableFull();
            connection.Terminate(full);
            throw full;
        }

        Flush(connection, now);
        return connection;
    }

    /// <summary>Loop thread: swaps the socket, then starts each client connection's migration.</summary>
    private Task[] Rebind(CancellationToken cancellationToken)
    {
        if (_port is not SocketDatagramPort { OwnsSocket: true } old)
        {
            throw new InvalidOperationException("The endpoint runs on a socket it does not own (QuicEndpoint.Attach, or a server's UDP listener), which it cannot replace.");
        }

        var servers = _connections.Count(c => c.IsServer);
        if (servers > 0)
        {
            throw new InvalidOperationException($"The endpoint has {servers} incoming connection(s); only client connections can move to a new local port.");
        }

        // Same address and socket options as Bind's socket; the kernel picks the new port.
        var oldLocal = old.LocalAddress;
        var socket = UdpBatchSocket.Bind(PeerAddress.Create(oldLocal.RawFamily, oldLocal.AddressBytes, 0), new UdpSocketOptions { ReusePort = false, ReceiveTimeout = MaxWait });
        var port = new SocketDatagramPort(socket, ownsSocket: true);
        if (_feeds is not null)
        {
            port.UseFeeds(_feeds);
        }

        _port = port;
        Interlocked.Increment(ref _portGeneration);
        old.Dispose();

        var migrations = new List<Task>();
        foreach (var connection in _connections)
        {
            if (!connection.IsTerminated)
            {
                migrations.Add(connection.MoveToLocalAddress(socket.LocalAddress, cancellationToken));
            }
        }

        return [.. migrations];
    }

    /// <summary>Loop thread: sends what <paramref name="connection"/> has to send now, in batches.</summary>
    internal unsafe void Flush(QuicConnection connection, ulong now)
    {
        AssertOnLoopThread();
        var batch = _sendBatch;
        while (!connection.IsTerminated)
        {
            connection.MoveQueuedDatagrams();
            batch.Clear();
            int written;
            fixed (int* lengths = batch.Lengths)
            {
                written = QuicShim.ConnWritePkts(connection.Handle, batch.SlotPointer(0), (nuint)batch.SlotSize, (nuint)batch.Capacity, lengths, (byte*)batch.DestinationPointer(0), now);
            }

            if (written < 0)
            {
                Fail(connection, written, now);
                return;
            }

            if (written == 0)
            {
                return;
            }

            batch.Count = written;
            for (var i = 0; i < written; i++)
            {
                batch.ResetSlot(i);
                batch.Forward(i, batch.Destinations[i]);
            }

            _port.Send(batch, _counters);
            if (connection.Unprotected.InUse)
            {
                connection.RefreshUnprotectedPath();
            }

            if (written < batch.Capacity)
            {
                return;
            }
        }
    }

    private void Fail(QuicConnection connection, int error, ulong now)
    {
        var exception = connection.DescribeFailure(error);
        switch (error)
        {
            case QuicShim.ErrorDraining:
                // The peer closed: keep its CIDs for the draining period, answering nothing (RFC 9000 §10.2.2).
                End(connection, exception, ClosingPeriodEnd(connection, now), closeDatagram: null);
                break;
            case QuicShim.ErrorIdleClose:
                // An idle timeout after a completed handshake is an ordinary end, not an error; CloseReason says why.
                var idle = $"idle timeout: no packet for {_options.IdleTimeout.TotalSeconds:0.###}s (QuicEndpointOptions.IdleTimeout; the peer's max_idle_timeout may be shorter)";
                End(connection, connection.Handshake.IsCompletedSuccessfully ? null : exception, closingUntil: 0, closeDatagram: null, idle);
                break;
            case QuicShim.ErrorDropConnection or QuicShim.ErrorHandshakeTimeout:
                // Silent: a half-open connection (maybe from a forged Initial) is dropped without a word.
                End(connection, exception, closingUntil: 0, closeDatagram: null);
                break;
            default:
                var close = SendClose(connection, 0, now);
                End(connection, exception, close is null ? 0 : ClosingPeriodEnd(connection, now), close);
                break;
        }
    }

    /// <summary>Closes a live connection at the application's request: CONNECTION_CLOSE, then the closing period.</summary>
    internal void Close(QuicConnection connection, ulong applicationErrorCode, ReadOnlySpan<byte> reason)
    {
        AssertOnLoopThread();
        var now = MonotonicClock.NowNanoseconds();
        var close = SendClose(connection, applicationErrorCode, now, reason);
        var text = reason.IsEmpty ? string.Empty : $", reason \"{Encoding.UTF8.GetString(reason)}\"";
        End(connection, null, close is null ? 0 : ClosingPeriodEnd(connection, now), close, $"closed locally with application error {applicationErrorCode}{text}");
    }

    private static void End(QuicConnection connection, QuicConnectionException? error, ulong closingUntil, byte[]? closeDatagram, string? reason = null)
    {
        connection.BeginClosingPeriod(closingUntil, closeDatagram);
        connection.Terminate(error, reason);
    }

    /// <summary>Three probe timeouts from now (RFC 9000 §10.2), or the configured minimum if longer.</summary>
    private ulong ClosingPeriodEnd(QuicConnection connection, ulong now) =>
        now + Math.Max(3 * QuicShim.ConnGetPto(connection.Handle), (ulong)_options.MinimumClosingPeriod.Ticks * 100);

    /// <summary>Sends our CONNECTION_CLOSE and returns a copy of it (to re-send in the closing period), or null if none may be sent.</summary>
    private unsafe byte[]? SendClose(QuicConnection connection, ulong applicationErrorCode, ulong now, ReadOnlySpan<byte> reason = default)
    {
        var batch = _sendBatch;
        batch.Clear();
        int written;
        fixed (byte* r = reason)
        {
            written = QuicShim.ConnWriteClose(connection.Handle, batch.SlotPointer(0), (nuint)batch.SlotSize, (byte*)batch.DestinationPointer(0), applicationErrorCode, r, (nuint)reason.Length, now);
        }

        if (written <= 0)
        {
            return null;
        }

        var copy = batch.Slot(0)[..written].ToArray();
        batch.Count = 1;
        batch.Lengths[0] = written;
        batch.ResetSlot(0);
        batch.Forward(0, batch.Destinations[0]);
        _port.Send(batch, _counters);
        return copy;
    }

    // ---- connection bookkeeping (loop thread) ----

    internal void OnHandshakeCompleted(QuicConnection connection)
    {
        AssertOnLoopThread();
        _pathProbes.Register(connection);
        if (connection.IsServer)
        {
            EndHandshake(connection);
            _accepted.Writer.TryWrite(connection);
        }
    }

    internal void OnIncomingFailed(QuicConnection connection, QuicConnectionException error)
    {
        EndHandshake(connection);
        ConnectionFailed?.Invoke(this, new QuicConnectionFailedEventArgs(connection.RemoteEndPoint, error));
    }

    private void EndHandshake(QuicConnection connection)
    {
        _handshaking--;
        if (connection.HandshakeSource is { } source)
        {
            _halfOpen.Release(source);
            connection.HandshakeSource = null;
        }
    }

    /// <summary>A new connection becomes live: it gets a slot for its CID routes to name, and an owner for them.</summary>
    private void Admit(QuicConnection connection)
    {
        AssertOnLoopThread();
        _connections.Add(connection);
        Volatile.Write(ref _liveConnections, _connections.Count);
        Volatile.Write(ref _admittedConnections, _admittedConnections + 1);
        connection.Slot = _slots.Add(connection);
        connection.RouteOwner = ++_lastRouteOwner;
    }

    private bool TryAddLocalConnectionId(QuicConnection connection, ConnectionId cid)
    {
        if (!TryRegister(cid, connection))
        {
            return false;
        }

        connection.AddLocalConnectionId(cid);
        return true;
    }

    /// <summary>Routes <paramref name="cid"/> to <paramref name="connection"/> (taking it over from another, as the last registration wins); false if the table is full.</summary>
    internal bool TryRegister(ConnectionId cid, QuicConnection connection) =>
        _cids.TrySetWithoutEviction(cid, CidRoute.Local(connection.Slot, connection.RouteOwner, long.MaxValue));

    /// <summary>Stops routing <paramref name="cid"/>, unless another connection took it over since.</summary>
    internal void Unregister(ConnectionId cid, QuicConnection connection) =>
        _cids.RemoveIfOwnedBy(cid, connection.RouteOwner, ulong.MaxValue);

    internal QuicConnectionException ConnectionIdTableFull() => new(
        $"The endpoint's connection ID table is full ({_cids.Count} of {_cids.Capacity}: {ConnectionIdsPerConnection} for each of " +
        "QuicEndpointOptions.MaxConnections live and as many closing connections); the connection cannot be routed.");

    /// <summary>A connection ended: its CIDs route on through its closing or draining period, if it has one.</summary>
    internal void OnTerminated(QuicConnection connection)
    {
        AssertOnLoopThread();
        _connections.Remove(connection);
        Volatile.Write(ref _liveConnections, _connections.Count);
        _pathProbes.Unregister(connection);
        if (connection.ClosingUntil != 0 && !_stopping && _closing.Count < _options.MaxConnections)
        {
            _closing.Add(connection);
        }
        else
        {
            UnregisterAll(connection);
        }
    }

    private void UnregisterAll(QuicConnection connection)
    {
        foreach (var cid in connection.LocalConnectionIds)
        {
            Unregister(cid, connection);
        }

        // Last: no route names the slot any more, so it may go to another connection.
        if (connection.Slot >= 0)
        {
            _slots.Release(connection.Slot);
            connection.Slot = -1;
        }
    }

    /// <summary>Loop thread: <paramref name="stream"/> buffered received bytes; its reader sees them after the batch.</summary>
    internal void PublishAfterBatch(QuicStream stream) => _batchWork.PublishAfterBatch(stream);

    internal ConnectionId IssueConnectionId(int length)
    {
        var id = _options.ConnectionIdGenerator?.Invoke(length) ?? new ConnectionId(RandomNumberGenerator.GetBytes(length));
        if (id.Length != length)
        {
            throw new InvalidOperationException($"The CID generator returned {id.Length} bytes; {length} were asked for.");
        }

        return id;
    }

    /// <summary>The stateless-reset token of one of our CIDs: HMAC-SHA256(reset key, CID), first 16 bytes.</summary>
    internal void StatelessResetToken(ConnectionId cid, Span<byte> token)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_resetKey, cid.Span, mac);
        mac[..QuicShim.StatelessResetTokenSize].CopyTo(token);
    }

    private QuicShim.ConnConfig ConnectionConfig() => new()
    {
        IdleTimeoutNs = (ulong)_options.IdleTimeout.Ticks * 100,
        HandshakeTimeoutNs = (ulong)_options.HandshakeTimeout.Ticks * 100,
        StreamWindow = (ulong)_options.StreamReceiveWindow,
        MaxStreamWindow = (ulong)_options.MaxStreamReceiveWindow,
        ConnectionWindow = (ulong)_options.ConnectionReceiveWindow,
        MaxConnectionWindow = (ulong)_options.MaxConnectionReceiveWindow,
        MaxDatagramFrameSize = (ulong)_options.MaxDatagramFrameSize,
        KeepAliveNs = _options.KeepAliveInterval is { } keepAlive ? (ulong)keepAlive.Ticks * 100 : 0,
        CongestionControl = (ulong)_options.CongestionControl,
    };

    internal int StreamSendBuffer => _options.StreamSendBuffer;

    internal int DatagramReceiveQueue => _options.DatagramReceiveQueue;

    private static unsafe SafeQuicCredentialsHandle LoadCredentials(NodeIdentity identity)
    {
        var certificate = Encoding.ASCII.GetBytes(identity.CertificatePem + "\0");
        var key = Encoding.ASCII.GetBytes(identity.PrivateKeyPem + "\0");
        SafeQuicCredentialsHandle credentials;
        int error;
        fixed (byte* c = certificate)
        fixed (byte* k = key)
        {
            credentials = QuicShim.CredsNew(c, k, out error);
        }

        CryptographicOperations.ZeroMemory(key);
        if (credentials.IsInvalid)
        {
            credentials.Dispose();
            throw new ArgumentException($"The identity's certificate or key cannot be loaded: {QuicShim.Describe(error)}");
        }

        return credentials;
    }

    /// <summary>For the endpoint's connections, which report a throwing PathChanged handler here.</summary>
    internal ILogger Logger => _logger;

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "QUIC endpoint {Local}: a loop step failed; the loop goes on")]
    private static partial void LogLoopStepFailed(ILogger logger, IPEndPoint local, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "QUIC endpoint {Local}: the unroutable datagram handler failed")]
    private static partial void LogUnroutableHandlerFailed(ILogger logger, IPEndPoint local, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Critical, Message = "QUIC endpoint {Local}: the engine loop died; its connections no longer make progress")]
    private static partial void LogLoopDied(ILogger logger, IPEndPoint local, Exception exception);

    /// <summary>
    /// What the "loop thread only" comments say, checked in debug builds: the endpoint's state belongs to its loop
    /// thread, and to whoever disposes the endpoint once that thread has ended.
    /// </summary>
    [Conditional("DEBUG")]
    internal void AssertOnLoopThread() =>
        Debug.Assert(Thread.CurrentThread == _loop || !_loop.IsAlive, $"QuicEndpoint {_port.LocalAddress}: loop-thread state touched from thread {Environment.CurrentManagedThreadId}");
}
