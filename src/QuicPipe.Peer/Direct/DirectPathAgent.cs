using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// The dialing side's upkeep of one connection's direct path. The connection starts relayed; then, over and over
/// while it lives:
/// <list type="number">
/// <item>probe the other peer's candidates (it probes ours at the same time) until a pong comes back;</item>
/// <item>migrate the connection there (QUIC path validation: nothing is lost, duplicated or reordered);</item>
/// <item>while direct, ping every keep-alive interval (which also keeps both NATs' mappings open), and when no pong
/// came back for the timeout, migrate back to the relay;</item>
/// <item>relayed again, or no direct path found: wait the retry interval (3 s after a fallback), ask the peer through
/// the relay to probe again (with fresh candidates: addresses change), and start over.</item>
/// </list>
/// </summary>
internal sealed partial class DirectPathAgent
{
    private static readonly TimeSpan MigrationTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FallbackRetryGap = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SilenceCheckInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a fallback waits for the relay to confirm our address (a round trip to it, normally).</summary>
    private static readonly TimeSpan RelayCheckWait = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// The first retry after a fallback, when sooner than the retry interval. A direct path often dies because a NAT
    /// forgot its mapping (rebinding): both peers are still reachable, at new addresses. By now the side that rebound
    /// has re-registered with the relay (it pings the relay every RelayKeepAliveInterval, 3 s by default, and we
    /// pinged at once), so a round with fresh candidates finds the new path in seconds instead of 30.
    /// </summary>
    private static readonly TimeSpan RetryAfterFallback = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long the first round may hear nothing at all (no pong, no ping of the peer's) before the port search starts
    /// beside it. Between NATs that punching opens, a pong comes back within the round trip after our first full-TTL
    /// ping (150 ms into the round); silence past this means a mapping the relay's view does not predict.
    /// </summary>
    private static readonly TimeSpan SearchAfter = TimeSpan.FromMilliseconds(750);

    private readonly HolePuncher _puncher;
    private readonly PunchSession _session;
    private readonly QuicConnection _connection;
    private readonly Func<IPEndPoint> _relay;
    private readonly DirectPathOptions _options;
    private readonly Func<CancellationToken, Task<IReadOnlyList<IPEndPoint>?>> _requestPunch;
    private readonly Func<Task> _checkRelayNow;
    private readonly PortSearchStarter? _search;
    private readonly ILogger _logger;
    private bool _searched;

    /// <summary>
    /// <paramref name="relay"/> is where the connection goes when relayed (another relay once its own was lost);
    /// <paramref name="requestPunch"/> asks the peer through the relay to probe again and returns its current candidates
    /// (null: no answer); <paramref name="checkRelayNow"/> makes the relay liveness check run at once, and completes
    /// when it has (or never, while the relay is unreachable).
    /// </summary>
    public DirectPathAgent(
        HolePuncher puncher,
        PunchSession session,
        QuicConnection connection,
        Func<IPEndPoint> relay,
        DirectPathOptions options,
        Func<CancellationToken, Task<IReadOnlyList<IPEndPoint>?>> requestPunch,
        Func<Task> checkRelayNow,
        PortSearchStarter? search,
        ILogger logger)
    {
        _puncher = puncher;
        _session = session;
        _connection = connection;
        _relay = relay;
        _options = options;
        _requestPunch = requestPunch;
        _checkRelayNow = checkRelayNow;
        _search = search;
        _logger = logger;
    }

    /// <summary>
    /// Runs until the connection closes or <paramref name="stopping"/> fires; never throws for either. With no
    /// <paramref name="candidates"/> the first round asks the peer for them, as every retry does.
    /// </summary>
    public async Task RunAsync(IReadOnlyList<IPEndPoint> candidates, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _ = _connection.Closed.ContinueWith(
            _ =>
            {
                try
                {
                    linked.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The agent already ended.
                }
            },
            TaskScheduler.Default);
        var token = linked.Token;
        try
        {
            var first = true;
            while (!token.IsCancellationRequested)
            {
                // A retry, or a dial that brought no candidates (an offer's): ask the peer for its current ones.
                if (!first || candidates.Count == 0)
                {
                    candidates = await _requestPunch(token).ConfigureAwait(false) ?? candidates;
                }

                first = false;
                var retry = _options.RetryInterval;
                var (direct, bridge) = await FindAsync(candidates, token).ConfigureAwait(false);
                try
                {
                    if (direct is not null && await TryMigrateAsync(direct, token).ConfigureAwait(false))
                    {
                        await HoldDirectAsync(direct, token).ConfigureAwait(false);
                        await FallBackAsync(direct, token).ConfigureAwait(false);
                        retry = RetryAfterFallback < retry ? RetryAfterFallback : retry;
                        LogRetryingSoon(_logger, _session.Peer, retry.TotalSeconds);
                    }
                    else
                    {
                        LogNoDirectPath(_logger, _session.Peer, candidates.Count, retry.TotalSeconds);
                    }
                }
                finally
                {
                    if (bridge is not null)
                    {
                        await bridge.DisposeAsync().ConfigureAwait(false);
                    }
                }

                await Task.Delay(retry, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _puncher.Close(_session);
        }
    }

    /// <summary>
    /// One probing round; if it has heard nothing from the peer after <see cref="SearchAfter"/>, the port search runs
    /// beside it (once per connection: its cost is bounded, and a pair it cannot help stays relayed without paying it
    /// again), and whichever finds a path first wins. The bridge, if any, is the search's: the path goes through it.
    /// </summary>
    private async Task<(IPEndPoint? Direct, PortBridge? Bridge)> FindAsync(IReadOnlyList<IPEndPoint> candidates, CancellationToken token)
    {
        using var stopRound = CancellationTokenSource.CreateLinkedTokenSource(token);
        var round = _puncher.ProbeAsync(_session, candidates, _options.PunchDuration, _options.Opening, stopRound.Token);
        if (_search is null || _searched || candidates.Count == 0
            || await Task.WhenAny(round, Task.Delay(SearchAfter, token)).ConfigureAwait(false) == round
            || _session.PingedThisRound)
        {
            return (await round.ConfigureAwait(false), null);
        }

        _searched = true;
        using var stopSearch = CancellationTokenSource.CreateLinkedTokenSource(token);
        var search = _search(_session, candidates, stopSearch.Token);
        if (await Task.WhenAny(round, search).ConfigureAwait(false) == round && round.Result is { } direct)
        {
            await stopSearch.CancelAsync().ConfigureAwait(false);
            if ((await search.ConfigureAwait(false))?.Bridge is { } unused)
            {
                await unused.DisposeAsync().ConfigureAwait(false);
            }

            return (direct, null);
        }

        if (await search.ConfigureAwait(false) is { } found)
        {
            await stopRound.CancelAsync().ConfigureAwait(false);
            await round.ConfigureAwait(false);
            return (found.Direct, found.Bridge);
        }

        return (await round.ConfigureAwait(false), null);
    }

    private async Task<bool> TryMigrateAsync(IPEndPoint direct, CancellationToken token)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(token);
        limit.CancelAfter(MigrationTimeout);
        try
        {
            await _connection.MigrateAsync(direct, limit.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is QuicConnectionException or InvalidOperationException || (e is OperationCanceledException && !token.IsCancellationRequested))
        {
            LogMigrationFailed(_logger, _session.Peer, direct, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Pings the direct address every keep-alive interval; returns once no pong came back for the timeout. Silence is
    /// checked every <see cref="SilenceCheckInterval"/>, not only at each ping: checked at pings alone, a dead path
    /// was noticed up to a whole keep-alive interval after the timeout.
    /// </summary>
    private async Task HoldDirectAsync(IPEndPoint direct, CancellationToken token)
    {
        var since = Environment.TickCount64;
        var nextPing = since;
        var keepAliveMs = (long)_options.KeepAlive.TotalMilliseconds;
        var check = _options.KeepAlive < SilenceCheckInterval ? _options.KeepAlive : SilenceCheckInterval;
        while (!token.IsCancellationRequested && _connection.RemoteEndPoint.Equals(direct))
        {
            if (Environment.TickCount64 >= nextPing)
            {
                _puncher.SendPing(_session, direct);
                nextPing = Environment.TickCount64 + keepAliveMs;
            }

            await Task.Delay(check, token).ConfigureAwait(false);
            var lastPong = _session.LastPong(direct)?.At ?? since;
            var silent = Environment.TickCount64 - Math.Max(lastPong, since);
            if (silent > (long)_options.Timeout.TotalMilliseconds)
            {
                LogDirectPathLost(_logger, _session.Peer, direct, silent);
                return;
            }
        }
    }

    /// <summary>
    /// Moves the connection back to the relay, trying again until it is there or ends. The move is immediate: the
    /// relay path worked before and the relay answered our liveness pings, while the direct path's congestion window
    /// is full of packets that will never be acknowledged. A validating move would wait behind them (ngtcp2 0.12
    /// sends its PATH_CHALLENGE only when that window has room or a backed-off probe timeout fires: 0.2-2 s).
    /// </summary>
    private async Task FallBackAsync(IPEndPoint direct, CancellationToken token)
    {
        // Our NAT may have rebound (that is one way a direct path dies): ping the relay now rather than at its next
        // interval, so a new public address is registered, and the relay's path back to us works, before the move.
        // Moved first, the peer's answer to the move's PATH_CHALLENGE went to our old address and was lost, and the
        // move completed only when ngtcp2 sent the challenge again, a second later.
        await Task.WhenAny(_checkRelayNow(), Task.Delay(RelayCheckWait, token)).ConfigureAwait(false);
        while (!token.IsCancellationRequested && !_connection.RemoteEndPoint.Equals(_relay()))
        {
            try
            {
                await _connection.MigrateAsync(_relay(), QuicMigrationMode.Immediate, token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is QuicConnectionException or InvalidOperationException)
            {
                LogFallbackFailed(_logger, _session.Peer, direct, e.Message);
            }

            await Task.Delay(FallbackRetryGap, token).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "No direct path to {Peer} answered ({Candidates} candidates); staying relayed, trying again in {RetrySeconds} s")]
    private static partial void LogNoDirectPath(ILogger logger, NodeId peer, int candidates, double retrySeconds);

    [LoggerMessage(EventId = 34, Level = LogLevel.Information, Message = "Relayed again to {Peer}; looking for a direct path again in {RetrySeconds} s (a NAT may have given us new addresses)")]
    private static partial void LogRetryingSoon(ILogger logger, NodeId peer, double retrySeconds);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "Could not move the connection to {Peer} onto {Direct}: {Reason}")]
    private static partial void LogMigrationFailed(ILogger logger, NodeId peer, IPEndPoint direct, string reason);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "Direct path to {Peer} at {Direct} silent for {SilentMs} ms; falling back to the relay")]
    private static partial void LogDirectPathLost(ILogger logger, NodeId peer, IPEndPoint direct, long silentMs);

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, Message = "Falling back from {Direct} to the relay for {Peer} failed ({Reason}); trying again")]
    private static partial void LogFallbackFailed(ILogger logger, NodeId peer, IPEndPoint direct, string reason);
}
