using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Mesh.Internal;
using QuicPipe.Peer;
using QuicPipe.Protocol.Mesh;
using QuicPipe.Quic;

namespace QuicPipe.Mesh;

/// <summary>
/// A peer's part in the mesh (docs/circuits.md): it keeps a link to each neighbour, floods probes for targets no
/// relay knows, relays the cells of circuits through it, and runs the end-to-end QUIC connections of the circuits
/// that end here (<see cref="DialAsync(NodeId, CancellationToken)"/>, <see cref="AcceptAsync(CancellationToken)"/>) on an endpoint of its own whose packets travel
/// as cells: the nodes between the ends carry only ciphertext.
/// </summary>
/// <remarks>
/// The node is the facade and the end-to-end endpoint; its parts: <see cref="LinkKeeper"/> (the neighbour links),
/// <see cref="ProbeRouter"/> (probes and their answers), <see cref="CircuitSwitch"/> (hops, cells, teardown) and
/// <see cref="CircuitRerouter"/> (what becomes of a circuit ending here whose hop closed). One lock, the node's,
/// guards the control state of all of them (links, probes, circuit tables' changes); cells cross on the links'
/// endpoint loop thread and only read the tables.
/// </remarks>
public sealed partial class MeshNode : IAsyncDisposable
{
    /// <summary>Application error code of an end-to-end connection closed because its circuit went down.</summary>
    public const long CircuitDownError = 0x6d01;

    private readonly Lock _gate = new();
    private readonly PeerEndpoint _peer;
    private readonly MeshNodeOptions _options;
    private readonly NodeId _self;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CircuitCarrier _carrier;
    private readonly QuicEndpoint _inner;
    private readonly string _innerAlpn;
    private readonly List<Task> _tasks = [];

    private readonly LinkKeeper _links;
    private readonly CircuitSwitch _switch;
    private readonly ProbeRouter _router;
    private readonly CircuitRerouter _rerouter;

    // The DCIDs of end-to-end Initials we answered FOUND for, with the origin each pins and when it expires.
    private readonly ConcurrentDictionary<ConnectionId, (NodeId Origin, long ExpiresTicks)> _pins = new();
    private readonly Channel<MeshCircuit> _accepted = Channel.CreateBounded<MeshCircuit>(new BoundedChannelOptions(64));

    // The circuits of the end-to-end connections, for callers that hold only the connection.
    private readonly ConditionalWeakTable<QuicConnection, MeshCircuit> _byConnection = new();

    private MeshNode(PeerEndpoint peer, MeshNodeOptions options, ILoggerFactory? loggers)
    {
        _peer = peer;
        _options = options;
        _self = peer.NodeId;
        _logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("QuicPipe.Mesh");
        _carrier = new CircuitCarrier(this);
        _links = new LinkKeeper(this, peer, options, _gate, _logger);
        // The switch and the rerouter need each other; the rerouter is set below, before any link (and so any hop) exists.
        _switch = new CircuitSwitch(_gate, _carrier, (local, hop, from, reason, clean) => _rerouter!.OnHopClosed(local, hop, from, reason, clean));
        _router = new ProbeRouter(_self, options, _gate, _links, _switch, _carrier, _pins, _logger);
        _rerouter = new CircuitRerouter(options, _gate, _links, _router, _switch, _logger, _stopping.Token);
        _innerAlpn = peer.EndpointOptions.ServerAlpn;
        var socket = new QuicVirtualSocket(_carrier, CircuitCarrier.LocalAddress);
        _carrier.Socket = socket;
        _inner = QuicEndpoint.Attach(socket, new QuicEndpointOptions
        {
            Identity = peer.EndpointOptions.Identity,
            AcceptIncoming = true,
            ServerAlpn = _innerAlpn,
            ExpectedClientSelector = TakePin,

            // Backstops only: a circuit that breaks is torn down hop by hop within the link timeout.
            KeepAliveInterval = TimeSpan.FromSeconds(2),
            IdleTimeout = TimeSpan.FromSeconds(15),
            HandshakeTimeout = options.PendingCircuitLifetime,
            MaxConnections = options.MaxCircuits,
            LoggerFactory = loggers,
        });
    }

    /// <summary>This node's NodeId.</summary>
    public NodeId NodeId => _self;

    /// <summary>What the node did since it started.</summary>
    public MeshCounters Counters
    {
        get
        {
            lock (_gate)
            {
                return new MeshCounters
                {
                    ProbesForwarded = _router.Forwarded,
                    ProbeCopiesSent = _router.CopiesSent,
                    ProbesDuplicate = _router.Duplicates,
                    ProbesDeadEnded = _router.DeadEnded,
                    ProbesRefused = _router.Refused,
                    ProbeStates = _router.States,
                    CellsForwarded = _switch.CellsForwarded,
                    CellBytesForwarded = _switch.CellBytesForwarded,
                    CellsForwardedEncrypted = _switch.CellsForwardedEncrypted,
                    CellsDropped = _switch.CellsDropped,
                    Circuits = _switch.Count,
                    Links = _links.Count,
                };
            }
        }
    }

    /// <summary>How many neighbours the node keeps links to (up or not).</summary>
    public int Neighbors => _options.Neighbors.Count;

    /// <summary>The neighbours whose link is up now.</summary>
    public IReadOnlyCollection<NodeId> LinkedNeighbors
    {
        get
        {
            lock (_gate)
            {
                return [.. _links.Up.Select(l => l.Neighbor)];
            }
        }
    }

    /// <summary>The circuit <paramref name="connection"/> runs in, if it is an end-to-end connection of this node's.</summary>
    public MeshCircuit? FindCircuit(QuicConnection connection) => _byConnection.TryGetValue(connection, out var circuit) ? circuit : null;

    /// <summary>For tests: sees every cell this node relays from one link to another, as it leaves.</summary>
    internal CellTap? ForwardTap
    {
        get => _switch.ForwardTap;
        set => _switch.ForwardTap = value;
    }

    /// <summary>
    /// Starts the node on a started peer endpoint whose options let the neighbours dial it for mesh links
    /// (<see cref="MeshProtocol.AllowNeighbors"/>): links are dialed and accepted from now on, in the background.
    /// </summary>
    public static MeshNode Start(PeerEndpoint peer, MeshNodeOptions options, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Neighbors.Contains(peer.NodeId))
        {
            throw new ArgumentException("A node cannot be its own neighbour.", nameof(options));
        }

        var node = new MeshNode(peer, options, loggers);
        node.Run();
        return node;
    }

    private void Run()
    {
        var token = _stopping.Token;
        _links.Start(_tasks, token);
        _tasks.Add(Task.Run(() => AcceptCircuitConnectionsAsync(token), token));
        _tasks.Add(Task.Run(() => SweepAsync(token), token));
    }

    /// <summary>Waits until the links to every one of <paramref name="neighbors"/> are up and carry cells.</summary>
    public Task WaitForLinksAsync(IEnumerable<NodeId> neighbors, CancellationToken cancellationToken = default) => _links.WaitForAsync(neighbors, cancellationToken);

    /// <summary>
    /// Builds a circuit to <paramref name="target"/> through the neighbours and connects end to end inside it,
    /// pinned to <paramref name="target"/>'s NodeId.
    /// </summary>
    /// <exception cref="MeshException">
    /// Unreachable (every branch of the probe dead-ended, or no answer within the probe timeout), or the end-to-end
    /// handshake failed; the message says which in one line.
    /// </exception>
    public async Task<MeshCircuit> DialAsync(NodeId target, CancellationToken cancellationToken = default)
    {
        if (target == _self)
        {
            throw new MeshException("A circuit to this node itself makes no sense.");
        }

        // A node that just started may not have its links yet: the probe waits for one, within its own timeout.
        var deadline = Environment.TickCount64 + (long)_options.ProbeTimeout.TotalMilliseconds;
        while (!_links.AnyCarriesCells() && Environment.TickCount64 < deadline)
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        var dcid = RandomNumberGenerator.GetBytes(12);
        var key = RandomNumberGenerator.GetBytes(MeshProtocol.CircuitKeySize);
        var state = new ProbeState(null, deadline)
        {
            Found = new(TaskCreationOptions.RunContinuationsAsynchronously),
            Key = key,
        };
        var probe = _router.NewProbe(target);
        probe.InitialDcid = ByteString.CopyFrom(dcid);
        probe.CircuitKey = ByteString.CopyFrom(key);
        _router.SendProbe(target, probe, state);
        var hop = await _router.AwaitFoundAsync(target, state, deadline, _options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
        var circuit = hop.Local!;

        var started = Stopwatch.GetTimestamp();
        QuicConnection connection;
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_options.PendingCircuitLifetime);
            connection = await _inner.ConnectAsync(
                circuit.Address.ToEndPoint(),
                new QuicClientConnectionOptions { ExpectedPeer = target, Alpn = _innerAlpn, InitialDestinationConnectionId = new ConnectionId(dcid) },
                limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or OperationCanceledException)
        {
            _switch.CloseHop(hop, null, "the end-to-end handshake failed");
            cancellationToken.ThrowIfCancellationRequested();
            throw new MeshException(circuit.DownReason is { } down && e is not QuicConnectionException
                ? $"{target}: the circuit went down during the end-to-end handshake: {down}"
                : $"{target}: the end-to-end handshake through the circuit failed: {e.Message}", e);
        }

        // The handshake took one round trip and a little: the smoothed RTT it measured is the circuit's.
        var rtt = Stopwatch.GetElapsedTime(started);
        try
        {
            rtt = (await connection.GetStatsAsync(cancellationToken).ConfigureAwait(false)).SmoothedRtt;
        }
        catch (QuicConnectionException)
        {
        }

        var result = new MeshCircuit(connection, circuit.Path, rtt);
        Bind(circuit, connection, result);
        LogCircuitUp(_logger, target, string.Join(",", result.Via));
        return result;
    }

    /// <summary>Waits for the next circuit that ended here and completed its end-to-end handshake.</summary>
    public ValueTask<MeshCircuit> AcceptAsync(CancellationToken cancellationToken = default) => _accepted.Reader.ReadAsync(cancellationToken);

    /// <summary>Closes every link and circuit, and the end-to-end endpoint.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _inner.DisposeAsync().ConfigureAwait(false);
        _carrier.Dispose();
        _stopping.Dispose();
    }

    /// <summary>A link went down: the probes' branches on it end, and its circuits are torn down (or re-routed).</summary>
    internal void OnLinkDown(NeighborLink link, string reason)
    {
        List<CircuitHop> hops;
        lock (_gate)
        {
            _links.Forget(link);

            // Branches of probes on that link end here.
            _router.EndBranches(link);

            hops = [.. link.Hops.Values];
        }

        foreach (var hop in hops)
        {
            _switch.CloseHop(hop, link, reason);
        }
    }

    // ---- control messages (a link's reader) ----

    internal void OnMessage(NeighborLink link, MeshMessage message)
    {
        switch (message.BodyCase)
        {
            case MeshMessage.BodyOneofCase.Probe:
                OnProbe(link, message.Probe);
                break;
            case MeshMessage.BodyOneofCase.Answer:
                _router.OnAnswer(link, message.Answer);
                break;
            case MeshMessage.BodyOneofCase.CircuitClose:
                if (link.Hops.TryGetValue(message.CircuitClose.CircuitId, out var hop))
                {
                    _switch.CloseHop(hop, link, message.CircuitClose.Reason);
                }

                break;
            default:
                // Keep-alives: the link's reader noted the time.
                break;
        }
    }

    private void OnProbe(NeighborLink link, Probe probe)
    {
        _router.OnProbe(link, probe, out var resumed);
        if (resumed is { } rerouted)
        {
            if (rerouted.Old is { } old)
            {
                _switch.CloseHop(old, null, "re-routed");
            }

            _ = _rerouter.ReportRerouteAsync(rerouted.Circuit, null);
        }
    }

    // ---- end-to-end connections ----

    private void Bind(LocalCircuit circuit, QuicConnection connection, MeshCircuit result)
    {
        _byConnection.AddOrUpdate(connection, result);
        if (circuit.Bind(connection, result))
        {
            _ = _switch.CloseAfterAsync(connection, circuit);
        }
    }

    private async Task AcceptCircuitConnectionsAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            QuicConnection connection;
            try
            {
                connection = await _inner.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or ChannelClosedException)
            {
                return;
            }

            var circuit = _carrier.Find(PeerAddress.FromEndPoint(connection.RemoteEndPoint));
            if (circuit?.Hop is not { } hop)
            {
                _ = connection.CloseAsync(CircuitDownError, "circuit down", CancellationToken.None);
                continue;
            }

            var rtt = TimeSpan.Zero;
            try
            {
                rtt = (await connection.GetStatsAsync(stopping).ConfigureAwait(false)).SmoothedRtt;
            }
            catch (QuicConnectionException)
            {
            }

            var result = new MeshCircuit(connection, circuit.Path, rtt);
            Bind(circuit, connection, result);
            if (!_accepted.Writer.TryWrite(result))
            {
                _ = connection.CloseAsync(CircuitDownError, "too many circuits wait to be accepted", CancellationToken.None);
            }
        }
    }

    private NodeId? TakePin(ConnectionId dcid) => _pins.TryRemove(dcid, out var pin) && pin.ExpiresTicks > Environment.TickCount64 ? pin.Origin : null;

    /// <summary>Once a second: expired probes and pins go, pending circuits past their lifetime and idle ones are torn down.</summary>
    private async Task SweepAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                var now = Environment.TickCount64;
                List<CircuitHop> stale;
                lock (_gate)
                {
                    _router.RemoveExpired(now);
                    stale = _switch.Stale(_links.Up, now, _options);
                }

                foreach (var (dcid, pin) in _pins)
                {
                    if (pin.ExpiresTicks <= now)
                    {
                        _pins.TryRemove(dcid, out _);
                    }
                }

                foreach (var hop in stale)
                {
                    _switch.CloseHop(hop, null, hop.LastCellTicks == 0 ? "pending too long" : "idle too long");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A cell from a link (its endpoint loop thread).</summary>
    internal void OnCell(NeighborLink link, ReadOnlySpan<byte> cell) => _switch.OnCell(link, cell);

    internal QuicConnection? OnUnprotectedCell(NeighborLink link, Span<byte> cell) => _switch.OnUnprotectedCell(link, cell);

    internal void CountDroppedCell() => _switch.CountDroppedCell();

    [LoggerMessage(EventId = 63, Level = LogLevel.Information, Message = "Circuit to {Target} up via {Via}")]
    private static partial void LogCircuitUp(ILogger logger, NodeId target, string via);
}
