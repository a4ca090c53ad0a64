using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Peer.Diagnostics;
using QuicPipe.Peer.Direct;
using QuicPipe.Peer.Internal;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// One peer: one UDP socket carrying its control connections to its relays and all its peer-to-peer QUIC
/// connections. It registers its CID key with each relay (so registration traffic also opens its NAT toward the
/// relay), answers dial requests signalled through any of them, dials other peers by NodeId through the first relay
/// that knows the peer, and reconnects and re-registers by itself when it loses a relay (a relay restart, a new public
/// address), moving the connections it dialed through a lost relay to another relay the peer is registered at.
/// </summary>
/// <remarks>
/// Dialing B: A signals B a DialRequest through the relay; B, if A may dial it, answers with a fresh CID from its
/// own derived (and therefore already routed) set; A sends its first Initial to the relay with that CID as the
/// destination, the relay forwards it to B, and B pins the connection to A's NodeId (the relay authenticated
/// who signalled). No packet is carried out of band.
/// </remarks>
public sealed partial class PeerEndpoint : IAsyncDisposable
{
    // Beyond this many, an offer's dialer is not remembered: its connection then stays relayed.
    private const int MaxOfferDialers = 4096;

    private static readonly TimeSpan IncomingDialLifetime = TimeSpan.FromSeconds(60);

    // Dialers of offers we accepted: they may ask us for hole punching as allowed dialers do.
    private readonly ConcurrentDictionary<NodeId, byte> _offerDialers = new();

    private readonly PeerEndpointOptions _options;
    private readonly CidIssuer _issuer;
    private readonly IncomingDialTable _incoming;
    private readonly DirectPaths _direct;
    private readonly ConditionalWeakTable<QuicConnection, PeerPath> _paths = new();
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<ulong, PendingDial> _dials = new();
    private readonly CrossedDials _crossed;

    private readonly PeerRelays _relays;
    private readonly RelayFailover _failover;

    // Closes connections whose peer fell silent while their path was alive (--peer-timeout).
    private readonly PeerLiveness _liveness;

    // The peer's instruments (meter QuicPipe.Peer.Paths), from construction to stop.
    private readonly PeerPathMetrics _metrics;

    // Written by the connection handler of each incoming connection; read by AcceptAsync. Bounded: a handler waits
    // for room, so unaccepted connections stay few (the QUIC endpoint's handshake limits bound the rest).
    private readonly Channel<QuicConnection> _accepted = Channel.CreateBounded<QuicConnection>(new BoundedChannelOptions(64));

    // The same for the connections of each further protocol (PeerEndpointOptions.ProtocolDialers), by ALPN.
    private readonly Dictionary<string, Channel<QuicConnection>> _protocolAccepted = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _firstRegistration = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Why the endpoint can no longer work, once it cannot; dials and accepts then fail with a copy.
    private volatile PeerException? _failure;
    private ListenerContext? _listener;
    private QuicEndpoint? _quic;
    private QuicPipeServer? _ownServer;
    private Task _livenessRun = Task.CompletedTask;

    /// <summary>
    /// A peer to compose on a server's UDP listener (<see cref="PeerListenerBuilderExtensions.UsePeer"/>) and start
    /// once the server has started (<see cref="StartAsync(CancellationToken)"/>). It binds nothing itself.
    /// </summary>
    public PeerEndpoint(PeerEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _issuer = new CidIssuer(options.CidLength);
        _incoming = new IncomingDialTable(4096, TimeProvider.System);
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("QuicPipe.Peer");
        var sessions = options.RelayList.Select(relay => new RelaySession(
            options, relay, _issuer, e => Registered?.Invoke(this, e), Fail, OnRelayLost, AnswerDial, TakeSignalAsync, () => IsRelaying(relay.EndPoint), _stopping.Token, _logger));
        _relays = new PeerRelays(sessions, () => _failure, _logger);
        _failover = new RelayFailover(_relays.Sessions, _stopping.Token, _logger);
        _direct = new DirectPaths(options, () => LocalEndPoint, () => PublicEndPoint, RelayOf, MayAskForPunch, _stopping.Token, _logger);
        _crossed = new CrossedDials(options.Identity!.NodeId, _dials, Allows, _logger);
        _liveness = new PeerLiveness(options.PeerTimeout, IsPathAlive, _logger);
        _metrics = new PeerPathMetrics(this);
        EndpointOptions = new QuicEndpointOptions
        {
            Identity = options.Identity,
            AcceptIncoming = true,
            ServerAlpn = options.Alpn,
            ExpectedClientSelector = _incoming.Take,
            ConnectionIdLength = options.CidLength,
            ConnectionIdGenerator = _issuer.Next,
            KeepAliveInterval = options.KeepAliveInterval,
            IdleTimeout = options.IdleTimeout,
            HandshakeTimeout = options.HandshakeTimeout,

            // Every relayed dial reaches us from the relay's address, and only signalled dials are admitted at all
            // (ExpectedClientSelector), so a cap per source address would only cap dials through one relay: the
            // endpoint's overall cap on open handshakes is the one that holds.
            MaxHandshakingPerAddress = int.MaxValue,
            MaxHandshakingPerPrefix = int.MaxValue,
            MaxConnections = options.MaxConnections,
            UnroutableDatagramHandler = _direct.OnDatagram,
            LoggerFactory = options.LoggerFactory,
        };
        foreach (var protocol in options.ProtocolDialers.Keys)
        {
            EndpointOptions.AdditionalServerAlpns.Add(protocol);
            _protocolAccepted[protocol] = Channel.CreateBounded<QuicConnection>(new BoundedChannelOptions(64));
        }
    }

    /// <summary>This peer's NodeId.</summary>
    public NodeId NodeId => _options.Identity!.NodeId;

    /// <summary>
    /// Where the peer's UDP listener binds: <see cref="PeerEndpointOptions.LocalEndPoint"/>, or any address of the
    /// first relay's family on a port the kernel picks.
    /// </summary>
    public IPEndPoint ListenEndPoint => _options.LocalEndPoint ?? new IPEndPoint(_relays.First.EndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);

    /// <summary>
    /// The QUIC endpoint's settings: our identity, incoming dials admitted only as signalled (the CID we answered with
    /// names the dialer to pin), our derived CIDs, and the hole puncher for datagrams no connection claims.
    /// </summary>
    public QuicEndpointOptions EndpointOptions { get; }

    /// <summary>The CID length of our connections, which the listener's header stage parses.</summary>
    public int CidLength => _options.CidLength;

    /// <summary>The local address of the peer's one UDP socket.</summary>
    public IPEndPoint LocalEndPoint => Quic.LocalEndPoint;

    /// <summary>Our address as the relay last saw it (our NAT's public mapping): the first of our relays that has seen us.</summary>
    public IPEndPoint? PublicEndPoint => _relays.PublicEndPoint;

    /// <summary>The (first) relay's NodeId (pinned, or trusted on first use).</summary>
    public NodeId? RelayId => _relays.First.RelayId;

    /// <summary>Times the peer registered with its relays, all counted (1 per relay after start; more after reconnects).</summary>
    public int Registrations => _relays.Registrations;

    /// <summary>Each of the peer's relays, in the order dials ask them: its address, NodeId, and whether we are registered there now.</summary>
    public IReadOnlyList<PeerRelayStatus> Relays => _relays.Statuses;

    /// <summary>Raised after each successful registration with any of the relays (the first, and every re-registration).</summary>
    public event EventHandler<PeerRegisteredEventArgs>? Registered;

    /// <summary>
    /// Completes when the endpoint is disposed, and faults with a <see cref="PeerException"/> as soon as the endpoint
    /// can no longer work: <see cref="PeerFailure.Replaced"/> when another process with this NodeId registered at the
    /// relay and took over its routes. The endpoint then neither reconnects nor re-registers; <see cref="DialAsync(NodeId, CancellationToken)"/>
    /// and <see cref="AcceptAsync(CancellationToken)"/> fail with the same kind and message. A program that runs until stopped should
    /// watch this, to exit with the message instead of running on unreachable.
    /// </summary>
    /// <remarks>
    /// It fails for good when another process with the same NodeId (the same key file) takes over its control
    /// connection at the relay: taking it back would replace the other process in turn, the two would trade the
    /// relay's routes forever, and every switch would break the live connections of both.
    /// </remarks>
    public Task Completion => _completion.Task;

    /// <summary>Probes sent and answered, and probes dropped for an unknown token, since start.</summary>
    public (long PingsSent, long PingsAnswered, long PongsReceived, long UnknownToken) ProbeCounters => _direct.ProbeCounters;

    /// <summary>The port searches' counters (docs/nat-traversal.md, "Symmetric NATs").</summary>
    public PeerPortSearchCounters PortSearchCounters => _direct.PortSearchCounters;

    /// <summary>The peer's instruments (meter QuicPipe.Peer.Paths).</summary>
    public PeerPathMetrics Metrics => _metrics;

    /// <summary>The path of a connection this endpoint dialed or accepted.</summary>
    /// <exception cref="ArgumentException">The connection is not one of this endpoint's.</exception>
    public PeerPath GetPath(QuicConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _paths.TryGetValue(connection, out var path)
            ? path
            : throw new ArgumentException("The connection was not dialed or accepted by this peer endpoint.", nameof(connection));
    }

    private QuicEndpoint Quic => _quic ?? throw new InvalidOperationException("The peer has not started: compose it with UsePeer, start the server, then StartAsync.");

    /// <summary>
    /// A peer on a server of its own: one UDP listener composed with <see cref="PeerListenerBuilderExtensions.UsePeer"/>,
    /// started, then connected to the relay and registered. Disposing the peer stops and disposes that server. Throws
    /// <see cref="PeerException"/> with a clear message when the relay is unreachable, is not the pinned one, or
    /// refuses the registration.
    /// </summary>
    public static async Task<PeerEndpoint> StartAsync(PeerEndpointOptions options, CancellationToken cancellationToken = default)
    {
        var peer = new PeerEndpoint(options);
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (options.LoggerFactory is { } loggers)
        {
            builder.Services.AddSingleton(loggers);
        }

        builder.ListenUdp(peer.ListenEndPoint, udp => udp.UsePeer(peer));
        var server = builder.Build();
        peer._ownServer = server;
        try
        {
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            await peer.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return peer;
    }

    /// <summary>
    /// Connects to the relays through the QUIC endpoint of the listener the peer is composed on (the server must have
    /// started) and registers with each. Throws <see cref="PeerException"/> with a clear message when no relay could
    /// be registered with (unreachable, not the pinned one, or refusing the registration); the peer is then of no
    /// further use. With several relays, one that fails while another succeeds is tried again in the background, as
    /// after losing it, and a warning says why.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var listener = _listener ?? throw new InvalidOperationException("Compose the peer on a UDP listener first (UsePeer).");
        if (_quic is not null)
        {
            throw new InvalidOperationException("The peer is already started.");
        }

        _quic = listener.Features.Get<QuicListenerEndpoints>()?.Endpoints.FirstOrDefault()
            ?? throw new InvalidOperationException($"{listener}: the peer's QUIC endpoint is not running: start the server before the peer.");
        _direct.Attach(_quic);
        await _relays.StartAsync(_quic, cancellationToken).ConfigureAwait(false);
        _livenessRun = _liveness.RunAsync(_stopping.Token);
    }

    /// <summary>
    /// Whether any of our relays knows <paramref name="peer"/> (it is registered there), asking them in order. A relay
    /// we are not connected to, or that does not answer within the dial timeout, counts as not knowing it.
    /// </summary>
    public Task<bool> IsKnownByAnyRelayAsync(NodeId peer, CancellationToken cancellationToken = default) =>
        _relays.KnowAnyAsync(peer, _options.DialTimeout, cancellationToken);

    /// <summary>Called by <see cref="PeerListenerBuilderExtensions.UsePeer"/>: the listener whose endpoint the peer uses.</summary>
    internal void ComposeOn(ListenerContext listener)
    {
        if (Interlocked.CompareExchange(ref _listener, listener, null) is not null)
        {
            throw new InvalidOperationException("The peer is already composed on a listener: a peer has one socket.");
        }
    }

    /// <summary>
    /// Connects to <paramref name="peer"/> through the first of our relays that knows it (the others are asked in
    /// order). Throws <see cref="PeerException"/> when the peer is connected to none of them (the message names each
    /// relay and what it said), refuses us, does not answer within the dial timeout, or fails the handshake; and
    /// when this endpoint has failed (<see cref="Completion"/>).
    /// </summary>
    public Task<QuicConnection> DialAsync(NodeId peer, CancellationToken cancellationToken = default) => DialAsync(peer, _options.Alpn, cancellationToken);

    /// <summary>
    /// <see cref="DialAsync(NodeId, CancellationToken)"/> for a connection of another protocol: the peer must take
    /// <paramref name="alpn"/> (its <see cref="PeerEndpointOptions.ProtocolDialers"/>) and allow us for it.
    /// </summary>
    public async Task<QuicConnection> DialAsync(NodeId peer, string alpn, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(alpn);
        _relays.ThrowIfNoneConnected();
        var dialId = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        var pending = new PendingDial(peer);
        _dials[dialId] = pending;
        var request = new PeerSignal { DialRequest = _direct.PrepareDialRequest(dialId, peer, out var punch) };
        request.DialRequest.AcceptsReverse = Allows(peer);
        var started = false;
        try
        {
            var relay = await _relays.SignalDialAsync(peer, request.ToByteArray(), cancellationToken).ConfigureAwait(false);
            DialAnswer answer;
            try
            {
                await Task.WhenAny(pending.Answer.Task, pending.Incoming.Task).WaitAsync(_options.DialTimeout, cancellationToken).ConfigureAwait(false);
                if (pending.Crossed)
                {
                    // The peer is dialing us too and its connection is the one both keep.
                    started = true;
                    return await pending.Incoming.Task.WaitAsync(_options.DialTimeout, cancellationToken).ConfigureAwait(false);
                }

                answer = await pending.Answer.Task.ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new PeerException(PeerFailure.TimedOut, pending.Crossed
                    ? $"{peer} was dialing us at the same time, but its connection did not arrive within {_options.DialTimeout.TotalSeconds:0.#} s."
                    : $"{peer} did not answer the dial request within {_options.DialTimeout.TotalSeconds:0.#} s.");
            }

            var dcid = new ConnectionId(answer.InitialDcid.Span);
            var connection = await ConnectThroughRelayAsync(peer, relay, dcid, alpn, _options.DialTimeout, cancellationToken).ConfigureAwait(false);
            await TrackAsync(connection, relay, cancellationToken).ConfigureAwait(false);
            _direct.Start(connection, punch, answer);
            started = true;
            return connection;
        }
        finally
        {
            _dials.TryRemove(dialId, out _);
            _crossed.Forget(pending);
            if (punch is not null && (!started || pending.Crossed))
            {
                _direct.Close(punch);
            }
        }
    }

    /// <summary>
    /// Waits for the next peer that dialed us (already authenticated and allowed); see <see cref="GetPath"/> for its
    /// path. Throws the endpoint's <see cref="PeerException"/> once it has failed (<see cref="Completion"/>).
    /// </summary>
    public async ValueTask<QuicConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw _failure is { } failure ? CopyFailure(failure) : new ObjectDisposedException(nameof(PeerEndpoint));
        }
    }

    /// <summary>
    /// Waits for the next connection of a further protocol (<see cref="PeerEndpointOptions.ProtocolDialers"/>) from a
    /// peer allowed to dial it for that protocol.
    /// </summary>
    /// <exception cref="ArgumentException">The peer takes no connections for <paramref name="alpn"/>.</exception>
    public async ValueTask<QuicConnection> AcceptAsync(string alpn, CancellationToken cancellationToken = default)
    {
        var queue = _protocolAccepted.GetValueOrDefault(alpn) ?? throw new ArgumentException($"This peer takes no connections for ALPN {alpn} (PeerEndpointOptions.ProtocolDialers).", nameof(alpn));
        try
        {
            return await queue.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw _failure is { } failure ? CopyFailure(failure) : new ObjectDisposedException(nameof(PeerEndpoint));
        }
    }

    // The out-of-band mode: a dial set up by an offer carried by hand instead of signalling.

    /// <summary>An offer for the peer we are about to dial with <see cref="DialOfferAsync"/>.</summary>
    public DialOffer CreateOffer() => DialOffer.Create(NodeId, _options.CidLength);

    /// <summary>
    /// Dials <paramref name="peer"/> with the offer's CID. Until the peer has read the offer (and registered the
    /// CID), the relay drops our Initials and QUIC retransmits them: this waits up to <paramref name="timeout"/>.
    /// An offer carries no candidates, so once connected we ask the peer for them through the relay (as a retry
    /// does) and the connection moves to a direct path as a signalled dial's would.
    /// </summary>
    public async Task<QuicConnection> DialOfferAsync(DialOffer offer, NodeId peer, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        if (offer.Dialer != NodeId)
        {
            throw new ArgumentException("The offer was made by another node.", nameof(offer));
        }

        var connection = await ConnectThroughRelayAsync(peer, _relays.First.EndPoint, offer.InitialDcid, _options.Alpn, timeout, cancellationToken).ConfigureAwait(false);
        await TrackAsync(connection, _relays.First.EndPoint, cancellationToken).ConfigureAwait(false);
        _direct.StartForOffer(connection, peer);
        return connection;
    }

    /// <summary>
    /// Accepts the dial an offer announces: registers its CID with the (first) relay as ours and pins the connection
    /// that arrives on it to the offer's dialer. The connection then comes out of <see cref="AcceptAsync(CancellationToken)"/>.
    /// </summary>
    public async Task AcceptOfferAsync(DialOffer offer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var control = _relays.First.Control ?? throw _relays.NotConnected(_relays.First);
        if (offer.InitialDcid.Length != _options.CidLength)
        {
            throw new PeerException($"The offer's CID has {offer.InitialDcid.Length} bytes; this relay uses {_options.CidLength}.");
        }

        try
        {
            await control.RegisterExplicitAsync([offer.InitialDcid], _options.RegistrationLifetime, cancellationToken).ConfigureAwait(false);
        }
        catch (RelayControlException e)
        {
            throw new PeerException(PeerFailure.RelayRefused, $"Relay {_relays.First.EndPoint} refused the offer's CID: {e.Message}", e);
        }

        _incoming.Add(offer.InitialDcid, offer.Dialer, _options.RegistrationLifetime);
        if (_offerDialers.Count < MaxOfferDialers)
        {
            _offerDialers.TryAdd(offer.Dialer, 0);
        }
    }

    /// <summary>
    /// The middleware in front of the handler of the peer's incoming connections (its listener's QUIC endpoint,
    /// <see cref="PeerListenerBuilderExtensions.UsePeer"/>): tracks the connection's path, and hands it to the crossed
    /// dial waiting for it (living as long as the connection: when a handler returns, the server closes its
    /// connection) or to the application's handler, <paramref name="next"/>.
    /// </summary>
    internal MultiplexedConnectionDelegate Accepting(MultiplexedConnectionDelegate next) => async context =>
    {
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var closing = context.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _stopping.Token);
        try
        {
            var relay = _relays.Find(connection.RemoteEndPoint) ?? _relays.First.EndPoint;
            await TrackAsync(connection, relay, stop.Token).ConfigureAwait(false);
            if (connection.RemoteNodeId is { } peer && _crossed.TryHandOver(peer, connection))
            {
                await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
                return;
            }

            if (connection.NegotiatedAlpn != _options.Alpn)
            {
                // Another protocol's connection (a mesh link): it goes to that protocol's accept, if its dialer may.
                if (connection.NegotiatedAlpn is { } alpn && _protocolAccepted.TryGetValue(alpn, out var queue) && connection.RemoteNodeId is { } dialer && _options.ProtocolDialers[alpn].Contains(dialer))
                {
                    await queue.Writer.WriteAsync(connection, stop.Token).ConfigureAwait(false);
                    await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
                }
                else
                {
                    await connection.CloseAsync(1, "this node does not allow you for this protocol", stop.Token).ConfigureAwait(false);
                }

                return;
            }

            if (connection.RemoteNodeId is { } tunnelDialer && !MayDialTunnels(tunnelDialer))
            {
                // Allowed in only for another protocol (a mesh neighbour): no tunnel.
                await connection.CloseAsync(1, "this node is not in the peer's --allow list", stop.Token).ConfigureAwait(false);
                return;
            }
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException or ChannelClosedException)
        {
            // Gone already, or the server or the peer is stopping: the connection ends with this handler.
            return;
        }

        await next(context).ConfigureAwait(false);
    };

    /// <summary>
    /// The handler when the application gives none: the connection waits for <see cref="AcceptAsync(CancellationToken)"/>, and the
    /// handler lives as long as the connection or until the server or the peer stops.
    /// </summary>
    internal async Task QueueForAcceptAsync(MultiplexedConnectionContext context)
    {
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var closing = context.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(closing, _stopping.Token);
        try
        {
            await _accepted.Writer.WriteAsync(connection, stop.Token).ConfigureAwait(false);
            await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException or ChannelClosedException)
        {
            // The connection failed, the endpoint failed (Completion), or the server is stopping.
        }
    }

    /// <summary>
    /// Stops: ends the direct paths, the relay session and every incoming connection's handler. The QUIC endpoint and
    /// its socket are the server's: a peer started with <see cref="StartAsync(PeerEndpointOptions, CancellationToken)"/>
    /// disposes its own server here, otherwise the application stops its server.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _ownServer, null) is { } server)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The peer's part of stopping (also the listener's stop, through the peer's service): idempotent.</summary>
    internal async Task StopAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _relays.StopAsync().ConfigureAwait(false);
        await _livenessRun.ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        foreach (var queue in _protocolAccepted.Values)
        {
            queue.Writer.TryComplete();
        }

        await _failover.StopAsync().ConfigureAwait(false);
        await _direct.StopAsync().ConfigureAwait(false);
        await _relays.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
        _completion.TrySetResult();
    }

    /// <summary>Connections not yet closed, by the kind of path they are on now (read when metrics are collected).</summary>
    internal (int Relayed, int Direct) CountOpenPaths()
    {
        int relayed = 0, direct = 0;
        foreach (var (connection, path) in _paths)
        {
            if (connection.Closed.IsCompleted)
            {
                continue;
            }

            if (path.Kind == PeerPathKind.Direct)
            {
                direct++;
            }
            else
            {
                relayed++;
            }
        }

        return (relayed, direct);
    }

    /// <summary>
    /// Whether the path <paramref name="connection"/> uses now is known to be alive, so that its peer's silence means
    /// something: a direct path is (its probes move the connection back to the relay within the direct path timeout
    /// when it fails); a relayed one while the relay answers its pings.
    /// </summary>
    private bool IsPathAlive(QuicConnection connection) =>
        _paths.TryGetValue(connection, out var path)
            ? path.Kind == PeerPathKind.Direct || _relays.At(path.Relay).IsAnswering
            : _relays.First.IsAnswering;

    /// <summary>Follows a new connection's path; called as soon as it is established, before it can move.</summary>
    private async Task<PeerPath> TrackAsync(QuicConnection connection, IPEndPoint relay, CancellationToken cancellationToken)
    {
        var path = new PeerPath(connection, relay, _relays.EndPoints, _direct.ShownAs);
        path.Changed += (_, e) => _metrics.CountMove(e.Kind);
        path.Changed += (_, e) => LogPathChanged(_logger, connection.RemoteNodeId, e.Kind == PeerPathKind.Direct ? "direct" : "relayed", e.Remote);
        _paths.AddOrUpdate(connection, path);
        _liveness.Watch(connection);
        await path.CaptureInitialRttAsync(cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <summary>
    /// Our answer to <paramref name="dialer"/>'s dial request, for the relay session to send: refused as crossed when
    /// our own dial to it wins, a CID to dial when it may dial us, refused otherwise.
    /// </summary>
    private PeerSignal AnswerDial(NodeId dialer, DialRequest request)
    {
        var dialId = request.DialId;
        if (_crossed.OursWins(dialer, request))
        {
            return new PeerSignal { DialRefused = new DialRefused { DialId = dialId, Crossed = true, Reason = "crossed dials: this node is dialing you and its connection is the one kept" } };
        }

        if (Allows(dialer))
        {
            // A CID of our derived set: the relay already routes it to us, and it pins the connection to the dialer.
            var cid = _issuer.Next();
            _incoming.Add(cid, dialer, IncomingDialLifetime);
            var dialAnswer = new DialAnswer { DialId = dialId, InitialDcid = ByteString.CopyFrom(cid.Span) };
            dialAnswer.Candidates.AddRange(_direct.Accept(dialer, request));
            LogDialAnswered(_logger, dialer);
            return new PeerSignal { DialAnswer = dialAnswer };
        }

        LogDialRefused(_logger, dialer);
        return new PeerSignal { DialRefused = new DialRefused { DialId = dialId, Reason = "this node is not in the peer's --allow list" } };
    }

    /// <summary>
    /// A signal through the relay other than a dial request, with the control connection it arrived on: a peer's
    /// answer to one of our dials, or a probing round's request or answer for the direct paths. False when it answers
    /// no dial of ours or is of no kind we know.
    /// </summary>
    private async Task<bool> TakeSignalAsync(RelayControlClient control, NodeId from, PeerSignal message, CancellationToken stopping)
    {
        switch (message.BodyCase)
        {
            case PeerSignal.BodyOneofCase.DialAnswer when _dials.TryGetValue(message.DialAnswer.DialId, out var pending) && pending.Peer == from:
                pending.Answer.TrySetResult(message.DialAnswer);
                return true;
            case PeerSignal.BodyOneofCase.DialRefused when _dials.TryGetValue(message.DialRefused.DialId, out var refused) && refused.Peer == from && message.DialRefused.Crossed:
                _crossed.Mark(refused);
                refused.Answer.TrySetCanceled(); // wakes the dial, which then waits for the peer's connection
                return true;
            case PeerSignal.BodyOneofCase.DialRefused when _dials.TryGetValue(message.DialRefused.DialId, out var refused) && refused.Peer == from:
                refused.Answer.TrySetException(new PeerException(PeerFailure.PeerRefused, $"{from} refused the connection: {message.DialRefused.Reason}"));
                return true;
            case PeerSignal.BodyOneofCase.PunchRequest:
                await _direct.AnswerPunchAsync(control, from, message.PunchRequest, stopping).ConfigureAwait(false);
                return true;
            case PeerSignal.BodyOneofCase.PunchAnswer:
                _direct.TakePunchAnswer(from, message.PunchAnswer);
                return true;
            case PeerSignal.BodyOneofCase.PortSearch:
                _direct.AnswerPortSearch(from, message.PortSearch);
                return true;
            case PeerSignal.BodyOneofCase.Presence:
                return true; // for the relay's answer to the sender alone

            default:
                return false;
        }
    }

    private bool Allows(NodeId dialer) => MayDialTunnels(dialer) || _options.ProtocolDialers.Values.Any(d => d.Contains(dialer));

    private bool MayDialTunnels(NodeId dialer) => _options.AllowAnyDialer || _options.AllowedDialers.Contains(dialer) || _offerDialers.ContainsKey(dialer);

    /// <summary>Whether a peer may ask us for a probing round: an allowed dialer, or the dialer of an offer we accepted.</summary>
    private bool MayAskForPunch(NodeId peer) => Allows(peer) || _offerDialers.ContainsKey(peer);

    private async Task<QuicConnection> ConnectThroughRelayAsync(NodeId peer, IPEndPoint relay, ConnectionId initialDcid, string alpn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await Quic.ConnectAsync(
                relay,
                new QuicClientConnectionOptions { ExpectedPeer = peer, Alpn = alpn, InitialDestinationConnectionId = initialDcid },
                limit.Token).ConfigureAwait(false);
        }
        catch (QuicConnectionException e)
        {
            throw new PeerException(PeerFailure.HandshakeFailed, $"The QUIC handshake with {peer} through relay {relay} failed: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException(PeerFailure.TimedOut, $"The QUIC handshake with {peer} through relay {relay} did not complete within {timeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Stops for good: says why once, and ends every dial and accept waiting with <paramref name="failure"/>.</summary>
    private void Fail(PeerException failure)
    {
        _failure = failure;
        LogFailed(_logger, failure.Message);
        foreach (var dial in _dials.Values)
        {
            dial.Answer.TrySetException(CopyFailure(failure));
        }

        _accepted.Writer.TryComplete(failure);
        foreach (var queue in _protocolAccepted.Values)
        {
            queue.Writer.TryComplete(failure);
        }

        _completion.TrySetException(failure);
    }

    /// <summary>The failure for one more caller: an exception of its own, not one shared and rethrown everywhere.</summary>
    internal static PeerException CopyFailure(PeerException failure) => new(failure.Failure, failure.Message);

    /// <summary>The session with the relay <paramref name="connection"/> goes through when relayed.</summary>
    private RelaySession RelayOf(QuicConnection connection) => _relays.At(GetPath(connection).Relay);

    /// <summary>Whether open connections run through <paramref name="relay"/> now (its session then watches it closely).</summary>
    private bool IsRelaying(IPEndPoint relay)
    {
        foreach (var (connection, _) in _paths)
        {
            if (!connection.Closed.IsCompleted && connection.RemoteEndPoint.Equals(relay))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A relay session lost its relay: the connections we dialed through it move to another, where they can.</summary>
    private void OnRelayLost(RelaySession lost)
    {
        if (_relays.Sessions.Count > 1)
        {
            _failover.MoveOff(lost, _paths.Select(p => p.Value));
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Path to {Peer}: {Kind} {Remote}")]
    private static partial void LogPathChanged(ILogger logger, NodeId? peer, string kind, IPEndPoint remote);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Dial request from {Dialer}: answered")]
    private static partial void LogDialAnswered(ILogger logger, NodeId dialer);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Dial request from {Dialer}: refused (not allowed)")]
    private static partial void LogDialRefused(ILogger logger, NodeId dialer);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "{Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
