using System.Net;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// A peer endpoint's relays: one <see cref="RelaySession"/> each, all on the endpoint's one socket, in the order
/// dials ask them. Starts them together (the peer works as long as one registers), signals a dial through the first
/// that knows the peer, and says which relays know a peer. With one relay, every message is the single-relay one.
/// </summary>
internal sealed partial class PeerRelays : IAsyncDisposable
{
    private readonly RelaySession[] _sessions;
    private readonly IPEndPoint[] _endPoints;
    private readonly Func<PeerException?> _failure;
    private readonly ILogger _logger;

    /// <param name="sessions">One session per relay, in the order given by the options.</param>
    /// <param name="failure">Why the endpoint can no longer work, once it cannot: what every request then fails with.</param>
    /// <param name="logger">The endpoint's logger.</param>
    public PeerRelays(IEnumerable<RelaySession> sessions, Func<PeerException?> failure, ILogger logger)
    {
        _sessions = [.. sessions];
        _endPoints = [.. _sessions.Select(s => s.EndPoint)];
        _failure = failure;
        _logger = logger;
    }

    /// <summary>The sessions, in the order dials ask them.</summary>
    public IReadOnlyList<RelaySession> Sessions => _sessions;

    /// <summary>The relays' addresses, in the same order: a connection whose packets go to one of them is relayed.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _endPoints;

    /// <summary>The first relay: offers go through it, and the listener binds to its address family.</summary>
    public RelaySession First => _sessions[0];

    /// <summary>Our address as the first relay that has seen us saw it.</summary>
    public IPEndPoint? PublicEndPoint => _sessions.Select(s => s.PublicEndPoint).FirstOrDefault(p => p is not null);

    /// <summary>Registrations with every relay, all counted.</summary>
    public int Registrations => _sessions.Sum(s => s.Registrations);

    /// <summary>Each relay as it is now.</summary>
    public IReadOnlyList<PeerRelayStatus> Statuses => [.. _sessions.Select(s => s.Status)];

    /// <summary>The session with the relay at <paramref name="relay"/>; the first one's for an address that is none of them.</summary>
    public RelaySession At(IPEndPoint relay) => Array.Find(_sessions, s => s.EndPoint.Equals(relay)) ?? _sessions[0];

    /// <summary><paramref name="remote"/> if it is one of the relays' addresses, else null.</summary>
    public IPEndPoint? Find(IPEndPoint remote) => Array.Find(_endPoints, remote.Equals);

    /// <summary>
    /// Connects to every relay at once and registers. Throws <see cref="PeerException"/> when none could be registered
    /// with (naming each and why, with several) or when another process with our NodeId holds one; a relay that failed
    /// while another succeeded is tried again in the background, with a warning.
    /// </summary>
    public async Task StartAsync(QuicEndpoint quic, CancellationToken cancellationToken)
    {
        var starts = _sessions.Select(s => s.StartAsync(quic, cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(starts).ConfigureAwait(false);
            return;
        }
        catch (PeerException) when (_sessions.Length > 1)
        {
            // Said below, relay by relay.
        }

        cancellationToken.ThrowIfCancellationRequested();
        var failed = _sessions.Zip(starts)
            .Where(s => s.Second.IsFaulted)
            .Select(s => (Session: s.First, Error: s.Second.Exception!.InnerException as PeerException ?? new PeerException(s.Second.Exception.InnerException!.Message)))
            .ToList();
        var replaced = failed.Find(f => f.Error.Failure == PeerFailure.Replaced).Error;
        if (failed.Count == _sessions.Length || replaced is not null)
        {
            var first = replaced ?? failed[0].Error;
            throw new PeerException(first.Failure, $"No relay could be registered with: {string.Join("; ", failed.Select(f => f.Error.Message))}", first);
        }

        foreach (var (session, error) in failed)
        {
            LogRelayRetried(_logger, session.EndPoint, error.Message);
            session.StartInBackground(quic);
        }
    }

    /// <summary>Throws the reason there is no relay to signal through, when we are connected to none.</summary>
    public void ThrowIfNoneConnected()
    {
        if (Array.TrueForAll(_sessions, s => s.Control is null))
        {
            throw _sessions.Length == 1 || _failure() is not null
                ? NotConnected(_sessions[0])
                : new PeerException(PeerFailure.RelayUnreachable, $"Not connected to any of our relays ({string.Join(", ", _endPoints.Select(e => e.ToString()))}).");
        }
    }

    /// <summary>Why there is no control connection to use: the endpoint failed, or the relay is being reconnected.</summary>
    public PeerException NotConnected(RelaySession relay) =>
        _failure() is { } failure ? PeerEndpoint.CopyFailure(failure) : new PeerException(PeerFailure.RelayUnreachable, $"Not connected to relay {relay.EndPoint}.");

    /// <summary>
    /// Signals <paramref name="payload"/> (a dial request) through the first relay that takes it (one that does not
    /// know the peer, or that we are not connected to, passes it on) and returns that relay's address; throws when
    /// none did, in one line naming each relay and what it said.
    /// </summary>
    public async Task<IPEndPoint> SignalDialAsync(NodeId peer, byte[] payload, CancellationToken cancellationToken)
    {
        var refusals = new List<(RelaySession Session, RelayControlException? Error)>();
        foreach (var session in _sessions)
        {
            if (session.Control is not { } control)
            {
                refusals.Add((session, null));
                continue;
            }

            try
            {
                await control.SignalAsync(peer, payload, cancellationToken).ConfigureAwait(false);
                return session.EndPoint;
            }
            catch (RelayControlException e)
            {
                refusals.Add((session, e));
            }
        }

        if (_failure() is { } failure)
        {
            throw PeerEndpoint.CopyFailure(failure);
        }

        if (refusals is [var (only, error)])
        {
            throw error is null ? NotConnected(only) : new PeerException(PeerFailure.PeerUnreachable, $"Cannot reach {peer} through relay {only.EndPoint}: {error.Message}", error);
        }

        var said = refusals.Select(r => $"relay {r.Session.EndPoint}: {r.Error?.Message ?? "not connected"}");
        throw new PeerException(
            refusals.Any(r => r.Error is not null) ? PeerFailure.PeerUnreachable : PeerFailure.RelayUnreachable,
            $"Cannot reach {peer} through any of our {refusals.Count} relays ({string.Join("; ", said)})");
    }

    /// <summary>
    /// Whether any relay knows <paramref name="peer"/>, asking them in order within <paramref name="limit"/>. A relay we
    /// are not connected to, or that does not answer in time, counts as not knowing it.
    /// </summary>
    public async Task<bool> KnowAnyAsync(NodeId peer, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(limit);
        try
        {
            foreach (var session in _sessions)
            {
                if (await session.KnowsAsync(peer, bounded.Token).ConfigureAwait(false) == true)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return false;
    }

    /// <summary>Waits for each session's upkeep to end (after the endpoint's stopping fired).</summary>
    public Task StopAsync() => Task.WhenAll(_sessions.Select(s => s.StopAsync()));

    /// <summary>Unregisters from each relay and closes its control connection.</summary>
    public async ValueTask DisposeAsync() => await Task.WhenAll(_sessions.Select(s => s.DisposeAsync().AsTask())).ConfigureAwait(false);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "Relay {Relay} not registered with at start ({Reason}); trying again in the background")]
    private static partial void LogRelayRetried(ILogger logger, IPEndPoint relay, string reason);
}
