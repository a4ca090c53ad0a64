using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Peer.Direct;
using QuicPipe.Protocol.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// Direct paths (docs/nat-traversal.md): candidates and a punch token ride along the dial signalling, both peers
/// probe each other's candidates, and the dialer moves the connection onto the first direct path that answers and
/// back to the relay when it dies.
/// </summary>
public sealed partial class PeerEndpoint
{
    private static readonly TimeSpan PunchAnswerTimeout = TimeSpan.FromSeconds(2);

    private readonly ConditionalWeakTable<QuicConnection, PeerPath> _paths = new();
    private readonly ConcurrentDictionary<UInt128, TaskCompletionSource<IReadOnlyList<IPEndPoint>>> _punchAnswers = new();
    private readonly List<Task> _directTasks = [];

    /// <summary>Probes sent and answered, and probes dropped for an unknown token, since start.</summary>
    public (long PingsSent, long PingsAnswered, long PongsReceived, long UnknownToken) ProbeCounters =>
        (_puncher.PingsSent, _puncher.PingsAnswered, _puncher.PongsReceived, _puncher.UnknownTokenProbes);

    /// <summary>The path of a connection this endpoint dialed or accepted.</summary>
    /// <exception cref="ArgumentException">The connection is not one of this endpoint's.</exception>
    public PeerPath GetPath(QuicConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _paths.TryGetValue(connection, out var path)
            ? path
            : throw new ArgumentException("The connection was not dialed or accepted by this peer endpoint.", nameof(connection));
    }

    private DirectPathOptions DirectOptions => new(_options.PunchDuration, _options.DirectKeepAliveInterval, _options.DirectPathTimeout, _options.DirectRetryInterval);

    /// <summary>Follows a new connection's path; called as soon as it is established, before it can move.</summary>
    private async Task<PeerPath> TrackAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        var path = new PeerPath(connection, _options.Relay!);
        path.Changed += (_, e) => LogPathChanged(_logger, connection.RemoteNodeId, e.Kind == PeerPathKind.Direct ? "direct" : "relayed", e.Remote);
        _paths.AddOrUpdate(connection, path);
        await path.CaptureInitialRttAsync(cancellationToken).ConfigureAwait(false);
        return path;
    }

    private List<IPEndPoint> OurCandidates() => PathCandidates.Gather(LocalEndPoint, PublicEndPoint, _options.Relay!);

    /// <summary>The dial request, with a punch token and our candidates when direct paths are on.</summary>
    private DialRequest PrepareDialRequest(ulong dialId, NodeId peer, out PunchSession? session)
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
    private void StartDirectPath(QuicConnection connection, PunchSession? session, DialAnswer answer)
    {
        if (session is null)
        {
            return;
        }

        var candidates = PathCandidates.Parse(answer.Candidates, LocalEndPoint.AddressFamily);
        if (answer.Candidates.Count == 0)
        {
            _puncher.Close(session); // the peer wants the relay only
            return;
        }

        RunDirectPathAgent(connection, session, candidates);
    }

    /// <summary>
    /// Dialer of an offer (no dial signalling, so no candidates yet): the upkeep starts by asking the accepter through
    /// the relay (PunchRequest), as a retry does; the accepter answers if it accepted our offer.
    /// </summary>
    private void StartDirectPathForOffer(QuicConnection connection, NodeId peer)
    {
        if (_options.DirectPaths && _puncher.Open(RandomNumberGenerator.GetBytes(PunchProbe.TokenLength), peer) is { } session)
        {
            RunDirectPathAgent(connection, session, candidates: []);
        }
    }

    /// <summary>Dialer: the connection's direct-path upkeep, in the background until the connection or this endpoint ends.</summary>
    private void RunDirectPathAgent(QuicConnection connection, PunchSession session, IReadOnlyList<IPEndPoint> candidates)
    {
        var agent = new DirectPathAgent(_puncher, session, connection, _options.Relay!, DirectOptions, token => RequestPunchAsync(session, token), CheckRelayNowAsync, _logger);
        RunInBackground(agent.RunAsync(candidates, _stopping.Token));
    }

    /// <summary>Accepter, answering a dial: remember the token, start probing the dialer, return our candidates (none: relay only).</summary>
    private IEnumerable<string> AcceptDirectPath(NodeId dialer, DialRequest request)
    {
        if (!_options.DirectPaths || _puncher.Open(request.PunchToken.Memory, dialer) is not { } session)
        {
            return [];
        }

        StartProbing(session, request.Candidates);
        return PathCandidates.Format(OurCandidates());
    }

    private void StartProbing(PunchSession session, IEnumerable<string> candidates)
    {
        var targets = PathCandidates.Parse(candidates, LocalEndPoint.AddressFamily);
        RunInBackground(_puncher.ProbeAsync(session, targets, _options.PunchDuration, _stopping.Token));
    }

    /// <summary>Dialer, relayed, about to try again: asks the peer to probe, and learns its current candidates.</summary>
    private async Task<IReadOnlyList<IPEndPoint>?> RequestPunchAsync(PunchSession session, CancellationToken cancellationToken)
    {
        if (_control is not { } control)
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

    /// <summary>Accepter: the dialer asks for another probing round.</summary>
    private async Task AnswerPunchAsync(RelayControlClient control, NodeId from, PunchRequest request, CancellationToken stopping)
    {
        if (!_options.DirectPaths || !(Allows(from) || _offerDialers.ContainsKey(from))
            || _puncher.Open(request.PunchToken.Memory, from) is not { } session)
        {
            return; // the dialer waits briefly, then probes what it knows; our probes are what it misses
        }

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

        StartProbing(session, request.Candidates);
    }

    private void TakePunchAnswer(NodeId from, PunchAnswer answer)
    {
        if (_puncher.Find(answer.PunchToken.Span) is { } session && session.Peer == from && _punchAnswers.TryGetValue(session.Key, out var pending))
        {
            pending.TrySetResult(PathCandidates.Parse(answer.Candidates, LocalEndPoint.AddressFamily));
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

    /// <summary>Waits for probing and upkeep tasks to end (after <see cref="_stopping"/> fired), before the socket closes.</summary>
    private async Task StopDirectPathsAsync()
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
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Path to {Peer}: {Kind} {Remote}")]
    private static partial void LogPathChanged(ILogger logger, NodeId? peer, string kind, IPEndPoint remote);
}
