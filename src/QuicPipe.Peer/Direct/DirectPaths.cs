using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Peer.Internal;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// A peer endpoint's direct paths (docs/nat-traversal.md): candidates and a punch token ride along the dial
/// signalling, both peers probe each other's candidates, and the dialer moves the connection onto the first direct
/// path that answers and back to the relay when it dies. Owns the hole puncher, the dialer's punch answers awaited,
/// and the probing and upkeep tasks running in the background until the endpoint stops.
/// </summary>
internal sealed partial class DirectPaths
{
    private static readonly TimeSpan PunchAnswerTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Each of a port search's two slices: 256 sockets open at 100 a second in 2.56 s, and the other side's probes,
    /// 100 a second from the start, have hit one of them by the end of the slice in all but about 1 search in 300 (a
    /// port range of 10,000, as in the lab; see <see cref="PortSearch.PortWindow"/>).
    /// </summary>
    private static readonly TimeSpan PortSearchSlice = TimeSpan.FromSeconds(4);

    private readonly PeerEndpointOptions _options;
    private readonly HolePuncher _puncher;
    private readonly Func<IPEndPoint> _localEndPoint;
    private readonly Func<IPEndPoint?> _publicEndPoint;
    private readonly IPEndPoint _firstRelay;
    private readonly Func<QuicConnection, RelaySession> _relayOf;
    private readonly Func<NodeId, bool> _mayAskForPunch;
    private readonly CancellationToken _stopping;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<UInt128, TaskCompletionSource<IReadOnlyList<IPEndPoint>>> _punchAnswers = new();
    private readonly List<Task> _directTasks = [];
    private readonly PortSearch _search;
    private readonly ConcurrentDictionary<PortBridge, byte> _bridges = new();

    /// <param name="options">The endpoint's options.</param>
    /// <param name="localEndPoint">The local address of the endpoint's socket (once started).</param>
    /// <param name="publicEndPoint">Our address as the relay last saw it.</param>
    /// <param name="relayOf">
    /// The session with the relay a connection goes through when relayed: whose control connection signals its peer,
    /// and whose liveness check a fallback runs first (<see cref="DirectPathAgent"/>).
    /// </param>
    /// <param name="mayAskForPunch">Whether a peer may ask us for a probing round (an allowed dialer, or an offer's).</param>
    /// <param name="stopping">Fires when the endpoint stops: probing and upkeep end.</param>
    /// <param name="logger">The endpoint's logger.</param>
    public DirectPaths(
        PeerEndpointOptions options,
        Func<IPEndPoint> localEndPoint,
        Func<IPEndPoint?> publicEndPoint,
        Func<QuicConnection, RelaySession> relayOf,
        Func<NodeId, bool> mayAskForPunch,
        CancellationToken stopping,
        ILogger logger)
    {
        _options = options;

        // A punch session outlives a few retry rounds without a probe: an accepter learns of a relayed connection's
        // liveness only through the dialer's punch requests.
        _puncher = new HolePuncher(4096, (3 * options.DirectRetryInterval) + options.PunchDuration);
        _search = new PortSearch(_puncher);
        _localEndPoint = localEndPoint;
        _publicEndPoint = publicEndPoint;
        _firstRelay = options.RelayList[0].EndPoint;
        _relayOf = relayOf;
        _mayAskForPunch = mayAskForPunch;
        _stopping = stopping;
        _logger = logger;
    }

    /// <summary>Probes sent and answered, and probes dropped for an unknown token, since start.</summary>
    public (long PingsSent, long PingsAnswered, long PongsReceived, long UnknownToken) ProbeCounters =>
        (_puncher.PingsSent, _puncher.PingsAnswered, _puncher.PongsReceived, _puncher.UnknownTokenProbes);

    /// <summary>Pings sent with the opening pings' low TTL since start (counted in the pings sent too).</summary>
    public long OpeningPingsSent => _puncher.OpeningPingsSent;

    /// <summary>The port searches' counters since start, and the extra sockets open now (bridges apart).</summary>
    public PeerPortSearchCounters PortSearchCounters =>
        new(_search.Searches, _search.Hits, _search.ProbesSent, _search.SocketsOpened, _search.SocketsOpen, _bridges.Count);

    private DirectPathOptions DirectOptions => new(_options.PunchDuration, _options.DirectKeepAliveInterval, _options.DirectPathTimeout, _options.DirectRetryInterval, PunchOpening.ForDialer(_options.PunchOpeningTtl));

    /// <summary>The QUIC endpoint's handler of datagrams no connection claims: the hole puncher's.</summary>
    public UnroutableDatagramHandler OnDatagram => _puncher.OnDatagram;

    /// <summary>The QUIC endpoint probes are sent from, once it runs.</summary>
    public void Attach(QuicEndpoint endpoint) => _puncher.Attach(endpoint);

    /// <summary>Ends a punch session (a dial that ended without a direct path).</summary>
    public void Close(PunchSession session) => _puncher.Close(session);

    /// <summary>The dial request, with a punch token and our candidates when direct paths are on.</summary>
    public DialRequest PrepareDialRequest(ulong dialId, NodeId peer, out PunchSession? session)
    {
        var request = new DialRequest { DialId = dialId };
        session = null;
        if (_options.DirectPaths)
        {
            session = _puncher.Open(RandomNumberGenerator.GetBytes(PunchProbe.TokenLength), peer);
            if (session is not null)
            {
                request.PunchToken = ByteString.CopyFrom(session.Token.Span);
                request.Candidates.AddRange(PathCandidates.Format(OurCandidates()));
            }
        }

        return request;
    }

    /// <summary>Dialer, connected through the relay: start the direct-path upkeep if both sides want it.</summary>
    public void Start(QuicConnection connection, PunchSession? session, DialAnswer answer)
    {
        if (session is null)
        {
            return;
        }

        var candidates = PathCandidates.Parse(answer.Candidates, _localEndPoint().AddressFamily, _options.ExcludedPathNetworks);
        if (answer.Candidates.Count == 0)
        {
            _puncher.Close(session); // the peer wants the relay only
            return;
        }

        RunAgent(connection, session, candidates);
    }

    /// <summary>
    /// Dialer of an offer (no dial signalling, so no candidates yet): the upkeep starts by asking the accepter through
    /// the relay (PunchRequest), as a retry does; the accepter answers if it accepted our offer.
    /// </summary>
    public void StartForOffer(QuicConnection connection, NodeId peer)
    {
        if (_options.DirectPaths && _puncher.Open(RandomNumberGenerator.GetBytes(PunchProbe.TokenLength), peer) is { } session)
        {
            RunAgent(connection, session, candidates: []);
        }
    }

    /// <summary>Accepter, answering a dial: remember the token, start probing the dialer, return our candidates (none: relay only).</summary>
    public IEnumerable<string> Accept(NodeId dialer, DialRequest request)
    {
        if (!_options.DirectPaths || _puncher.Open(request.PunchToken.Memory, dialer) is not { } session)
        {
            return [];
        }

        StartProbing(session, request.Candidates);
        return PathCandidates.Format(OurCandidates());
    }

    /// <summary>Accepter: the dialer asks for another probing round.</summary>
    public async Task AnswerPunchAsync(RelayControlClient control, NodeId from, PunchRequest request, CancellationToken stopping)
    {
        if (!_options.DirectPaths || !_mayAskForPunch(from)
            || _puncher.Open(request.PunchToken.Memory, from) is not { } session)
        {
            return; // the dialer waits briefly, then probes what it knows; our probes are what it misses
        }

        // Probing starts before the answer leaves, as it does for a dial: the dialer probes once it has our answer,
        // and by then our first (opening) pings must have given our NAT its mapping toward the dialer.
        StartProbing(session, request.Candidates);
        var answer = new PunchAnswer { PunchToken = request.PunchToken };
        answer.Candidates.AddRange(PathCandidates.Format(OurCandidates()));
        try
        {
            await control.SignalAsync(from, new PeerSignal { PunchAnswer = answer }.ToByteArray(), stopping).ConfigureAwait(false);
        }
        catch (RelayControlException e)
        {
            LogAnswerFailed(_logger, from, e.Message);
        }
    }

    /// <summary>Dialer: the peer's answer to our punch request, for the agent waiting for it.</summary>
    public void TakePunchAnswer(NodeId from, PunchAnswer answer)
    {
        if (_puncher.Find(answer.PunchToken.Span) is { } session && session.Peer == from && _punchAnswers.TryGetValue(session.Key, out var pending))
        {
            pending.TrySetResult(PathCandidates.Parse(answer.Candidates, _localEndPoint().AddressFamily, _options.ExcludedPathNetworks));
        }
    }

    /// <summary>Waits for probing and upkeep tasks to end (after the endpoint's stopping fired), before the socket closes.</summary>
    public async Task StopAsync()
    {
        Task[] tasks;
        lock (_directTasks)
        {
            tasks = [.. _directTasks];
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var bridge in _bridges.Keys)
        {
            await bridge.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Accepter: the dialer heard nothing from us in its first round and asks for a port search (docs/nat-traversal.md,
    /// "Symmetric NATs"): first we probe ports of its public address while it opens extra sockets, then the other way
    /// round. Runs in the background; ignored when the dialer may not ask us, the token is unknown, this connection
    /// had its search already (a peer cannot make us probe an address of its choice over and over), or a search runs.
    /// </summary>
    public void AnswerPortSearch(NodeId from, Protocol.Peer.PortSearch request)
    {
        if (!_options.DirectPaths || !_options.PortSearch || !_mayAskForPunch(from)
            || _puncher.Find(request.PunchToken.Span) is not { } session || session.Peer != from
            || PathCandidates.Parse(request.Candidates, _localEndPoint().AddressFamily, _options.ExcludedPathNetworks) is not [var dialer, ..]
            || !session.TryMarkSearched() || !_search.TryBegin())
        {
            return;
        }

        var slice = TimeSpan.FromMilliseconds(Math.Clamp(request.SliceMs, 1000, 10_000));
        RunInBackground(AnswerPortSearchAsync(session, dialer, slice));
    }

    private async Task AnswerPortSearchAsync(PunchSession session, IPEndPoint dialer, TimeSpan slice)
    {
        try
        {
            LogSearching(_logger, session.Peer, dialer, "probing its ports, then opening ours");
            if (await _search.ProbePortsAsync(session, dialer, slice, _stopping).ConfigureAwait(false) is { } found)
            {
                _search.CountHit();
                LogSearchFound(_logger, session.Peer, found);
                return;
            }

            if (await _search.OpenPortsAsync(session, dialer, _localEndPoint(), _options.PunchOpeningTtl, slice, _stopping).ConfigureAwait(false) is { } bridge)
            {
                Keep(bridge);
                LogSearchFound(_logger, session.Peer, bridge.Outside);
                return;
            }

            LogSearchGaveUp(_logger, session.Peer);
        }
        finally
        {
            _search.End();
        }
    }

    /// <summary>Dialer: <see cref="PortSearchStarter"/>. Asks the accepter to join, opens our ports, then probes its.</summary>
    private async Task<(IPEndPoint Direct, PortBridge? Bridge)?> SearchAsync(QuicConnection connection, PunchSession session, IReadOnlyList<IPEndPoint> candidates, CancellationToken cancellationToken)
    {
        // Only between two public mappings on different addresses (two peers behind one NAT have their LAN), with the
        // relay's view of ours to offer, and a control connection to ask on.
        var accepter = candidates[0];
        if (!_options.PortSearch || _publicEndPoint() is not { } ours || ours.Address.Equals(accepter.Address)
            || _relayOf(connection).Control is not { } control || !session.TryMarkSearched() || !_search.TryBegin())
        {
            return null;
        }

        try
        {
            var request = new Protocol.Peer.PortSearch { PunchToken = ByteString.CopyFrom(session.Token.Span), SliceMs = (uint)PortSearchSlice.TotalMilliseconds };
            request.Candidates.AddRange(PathCandidates.Format(OurCandidates()));
            await control.SignalAsync(session.Peer, new PeerSignal { PortSearch = request }.ToByteArray(), cancellationToken).ConfigureAwait(false);
            LogSearching(_logger, session.Peer, accepter, "opening our ports, then probing its");
            if (await _search.OpenPortsAsync(session, accepter, _localEndPoint(), _options.PunchOpeningTtl, PortSearchSlice, cancellationToken).ConfigureAwait(false) is { } bridge)
            {
                LogSearchFound(_logger, session.Peer, bridge.Outside);
                return (bridge.Address, Keep(bridge));
            }

            if (await _search.ProbePortsAsync(session, accepter, PortSearchSlice, cancellationToken).ConfigureAwait(false) is { } found)
            {
                _search.CountHit();
                LogSearchFound(_logger, session.Peer, found);
                return (found, null);
            }

            if (!cancellationToken.IsCancellationRequested)
            {
                LogSearchGaveUp(_logger, session.Peer);
            }

            return null;
        }
        catch (Exception e) when (e is RelayControlException or OperationCanceledException)
        {
            return null;
        }
        finally
        {
            _search.End();
        }
    }

    /// <summary>
    /// <paramref name="remote"/> as a path report should name it: a bridge's local address is where our socket sends, but
    /// the path leads to the other peer's address beyond it.
    /// </summary>
    public IPEndPoint ShownAs(IPEndPoint remote)
    {
        foreach (var bridge in _bridges.Keys)
        {
            if (bridge.Address.Equals(remote))
            {
                return bridge.Outside;
            }
        }

        return remote;
    }

    /// <summary>Tracks a bridge until it closes (idle, or disposed), so the endpoint's stop closes what is left.</summary>
    private PortBridge Keep(PortBridge bridge)
    {
        _bridges.TryAdd(bridge, 0);
        _ = bridge.Closed.ContinueWith(_ => _bridges.TryRemove(bridge, out byte _), TaskScheduler.Default);
        return bridge;
    }

    private List<IPEndPoint> OurCandidates() => PathCandidates.Gather(_localEndPoint(), _publicEndPoint(), _firstRelay, _options.ExcludedPathNetworks);

    /// <summary>Dialer: the connection's direct-path upkeep, in the background until the connection or the endpoint ends.</summary>
    private void RunAgent(QuicConnection connection, PunchSession session, IReadOnlyList<IPEndPoint> candidates)
    {
        var agent = new DirectPathAgent(
            _puncher,
            session,
            connection,
            () => _relayOf(connection).EndPoint,
            DirectOptions,
            token => RequestPunchAsync(connection, session, token),
            () => _relayOf(connection).CheckNowAsync(),
            _options.PortSearch ? (s, candidates, token) => SearchAsync(connection, s, candidates, token) : null,
            _logger);
        RunInBackground(agent.RunAsync(candidates, _stopping));
    }

    private void StartProbing(PunchSession session, IEnumerable<string> candidates)
    {
        var targets = PathCandidates.Parse(candidates, _localEndPoint().AddressFamily, _options.ExcludedPathNetworks);
        RunInBackground(_puncher.ProbeAsync(session, targets, _options.PunchDuration, PunchOpening.ForAccepter(_options.PunchOpeningTtl), _stopping));
    }

    /// <summary>Dialer, relayed, about to try again: asks the peer to probe, and learns its current candidates.</summary>
    private async Task<IReadOnlyList<IPEndPoint>?> RequestPunchAsync(QuicConnection connection, PunchSession session, CancellationToken cancellationToken)
    {
        if (_relayOf(connection).Control is not { } control)
        {
            return null;
        }

        var answer = new TaskCompletionSource<IReadOnlyList<IPEndPoint>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _punchAnswers[session.Key] = answer;
        try
        {
            var request = new PunchRequest { PunchToken = ByteString.CopyFrom(session.Token.Span) };
            request.Candidates.AddRange(PathCandidates.Format(OurCandidates()));
            await control.SignalAsync(session.Peer, new PeerSignal { PunchRequest = request }.ToByteArray(), cancellationToken).ConfigureAwait(false);
            return await answer.Task.WaitAsync(PunchAnswerTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RelayControlException or TimeoutException)
        {
            return null; // probe the candidates we have
        }
        finally
        {
            _punchAnswers.TryRemove(session.Key, out _);
        }
    }

    private void RunInBackground(Task task)
    {
        lock (_directTasks)
        {
            _directTasks.RemoveAll(t => t.IsCompleted);
            _directTasks.Add(task);
        }
    }

    [LoggerMessage(EventId = 35, Level = LogLevel.Information, Message = "Punching heard nothing from {Peer}; searching ports toward {Mapping}: {Role}")]
    private static partial void LogSearching(ILogger logger, NodeId peer, IPEndPoint mapping, string role);

    [LoggerMessage(EventId = 36, Level = LogLevel.Information, Message = "Port search to {Peer} found {Found}")]
    private static partial void LogSearchFound(ILogger logger, NodeId peer, IPEndPoint found);

    [LoggerMessage(EventId = 37, Level = LogLevel.Information, Message = "Port search to {Peer} found nothing; gave up, every extra socket closed")]
    private static partial void LogSearchGaveUp(ILogger logger, NodeId peer);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Could not answer {Dialer}: {Reason}")]
    private static partial void LogAnswerFailed(ILogger logger, NodeId dialer, string reason);
}
