using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Peer.Direct;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// One peer: one UDP socket carrying its control connection to the relay and all its peer-to-peer QUIC
/// connections. It registers its CID key with the relay (so registration traffic also opens its NAT toward the
/// relay), answers dial requests signalled through the relay, dials other peers by NodeId, and reconnects and
/// re-registers by itself when it loses the relay (a relay restart, a new public address).
/// </summary>
/// <remarks>
/// Dialing B: A signals B a DialRequest through the relay; B, if A may dial it, answers with a fresh CID from its
/// own derived (and therefore already routed) set; A sends its first Initial to the relay with that CID as the
/// destination, the relay forwards it to B, and B pins the connection to A's NodeId (the relay authenticated
/// who signalled). No packet is carried out of band.
/// </remarks>
public sealed partial class PeerEndpoint : IAsyncDisposable
{
    private static readonly TimeSpan IncomingDialLifetime = TimeSpan.FromSeconds(60);

    private readonly PeerEndpointOptions _options;
    private readonly QuicEndpoint _quic;
    private readonly CidIssuer _issuer;
    private readonly IncomingDialTable _incoming;
    private readonly HolePuncher _puncher;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<ulong, PendingDial> _dials = new();
    private readonly TaskCompletionSource _firstRegistration = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RelayControlClient? _control;
    private NodeId? _relayId;
    private Task _maintenance = Task.CompletedTask;

    private PeerEndpoint(PeerEndpointOptions options, QuicEndpoint quic, CidIssuer issuer, IncomingDialTable incoming, HolePuncher puncher)
    {
        _puncher = puncher;
        _options = options;
        _quic = quic;
        _issuer = issuer;
        _incoming = incoming;
        _relayId = options.RelayId;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("QuicPipe.Peer");
    }

    /// <summary>This peer's NodeId.</summary>
    public NodeId NodeId => _options.Identity!.NodeId;

    /// <summary>The local address of the peer's one UDP socket.</summary>
    public IPEndPoint LocalEndPoint => _quic.LocalEndPoint;

    /// <summary>Our address as the relay last saw it (our NAT's public mapping).</summary>
    public IPEndPoint? PublicEndPoint { get; private set; }

    /// <summary>The relay's NodeId (pinned, or trusted on first use).</summary>
    public NodeId? RelayId => _relayId;

    /// <summary>Times the peer registered with the relay (1 after start; more after reconnects).</summary>
    public int Registrations { get; private set; }

    /// <summary>
    /// Binds the socket, connects to the relay and registers. Throws <see cref="PeerException"/> with a clear
    /// message when the relay is unreachable, is not the pinned one, or refuses the registration.
    /// </summary>
    public static async Task<PeerEndpoint> StartAsync(PeerEndpointOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var issuer = new CidIssuer(options.CidLength);
        var incoming = new IncomingDialTable(4096, TimeProvider.System);

        // A punch session outlives a few retry rounds without a probe: an accepter learns of a relayed connection's
        // liveness only through the dialer's punch requests.
        var puncher = new HolePuncher(4096, (3 * options.DirectRetryInterval) + options.PunchDuration);
        var local = options.LocalEndPoint ?? new IPEndPoint(options.Relay!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        var quic = QuicEndpoint.Bind(local, new QuicEndpointOptions
        {
            Identity = options.Identity,
            AcceptIncoming = true,
            ServerAlpn = options.Alpn,
            ExpectedClientSelector = incoming.Take,
            ConnectionIdLength = options.CidLength,
            ConnectionIdGenerator = issuer.Next,
            KeepAliveInterval = options.KeepAliveInterval,
            IdleTimeout = options.IdleTimeout,
            HandshakeTimeout = options.HandshakeTimeout,
            MaxConnections = options.MaxConnections,
            UnroutableDatagramHandler = puncher.OnDatagram,
        });
        puncher.Attach(quic);
        var peer = new PeerEndpoint(options, quic, issuer, incoming, puncher);
        try
        {
            await peer.ConnectRelayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        peer._maintenance = peer.MaintainAsync();
        peer._acceptLoop = peer.AcceptLoopAsync(peer._stopping.Token);
        return peer;
    }

    /// <summary>
    /// Connects to <paramref name="peer"/> through the relay. Throws <see cref="PeerException"/> when the peer is
    /// not connected to the relay, refuses us, does not answer within the dial timeout, or fails the handshake; and
    /// when this endpoint has failed (<see cref="Completion"/>).
    /// </summary>
    public async Task<QuicConnection> DialAsync(NodeId peer, CancellationToken cancellationToken = default)
    {
        var control = _control ?? throw NotConnected();
        var dialId = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        var pending = new PendingDial(peer);
        _dials[dialId] = pending;
        var request = new PeerSignal { DialRequest = PrepareDialRequest(dialId, peer, out var punch) };
        request.DialRequest.AcceptsReverse = Allows(peer);
        var started = false;
        try
        {
            try
            {
                await control.SignalAsync(peer, request.ToByteArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (RelayControlException e)
            {
                throw new PeerException(PeerFailure.PeerUnreachable, $"Cannot reach {peer} through relay {_options.Relay}: {e.Message}", e);
            }

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
            var connection = await ConnectThroughRelayAsync(peer, dcid, _options.DialTimeout, cancellationToken).ConfigureAwait(false);
            await TrackAsync(connection, cancellationToken).ConfigureAwait(false);
            StartDirectPath(connection, punch, answer);
            started = true;
            return connection;
        }
        finally
        {
            _dials.TryRemove(dialId, out _);
            _crossed.TryRemove(new KeyValuePair<NodeId, PendingDial>(peer, pending));
            if (punch is not null && (!started || pending.Crossed))
            {
                _puncher.Close(punch);
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

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _maintenance.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _acceptLoop.ConfigureAwait(false);
        await StopDirectPathsAsync().ConfigureAwait(false);
        if (_control is { } control)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }

        await _quic.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _completion.TrySetResult();
    }

    private async Task<QuicConnection> ConnectThroughRelayAsync(NodeId peer, ConnectionId initialDcid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await _quic.ConnectAsync(
                _options.Relay!,
                new QuicClientConnectionOptions { ExpectedPeer = peer, Alpn = _options.Alpn, InitialDestinationConnectionId = initialDcid },
                limit.Token).ConfigureAwait(false);
        }
        catch (QuicConnectionException e)
        {
            throw new PeerException(PeerFailure.HandshakeFailed, $"The QUIC handshake with {peer} through relay {_options.Relay} failed: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PeerException(PeerFailure.TimedOut, $"The QUIC handshake with {peer} through relay {_options.Relay} did not complete within {timeout.TotalSeconds:0.#} s.");
        }
    }

    private sealed class PendingDial(NodeId peer)
    {
        public NodeId Peer { get; } = peer;

        public TaskCompletionSource<DialAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The peer's own connection, when the dials crossed and the peer's is the one kept.</summary>
        public TaskCompletionSource<QuicConnection> Incoming { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool Crossed;
    }
}
