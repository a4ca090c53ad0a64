using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// A peer's probing service: it sends hole-punch probes from the peer's one socket, answers the pings of peers
/// whose punch token it knows, and hands pongs to the connection they belong to. Sessions are bounded in number
/// and forgotten after a while without activity.
/// </summary>
internal sealed class HolePuncher
{
    private static readonly TimeSpan FirstProbeGap = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestProbeGap = TimeSpan.FromMilliseconds(500);

    private readonly ConcurrentDictionary<UInt128, PunchSession> _sessions = new();
    private readonly int _capacity;
    private readonly TimeSpan _idleLifetime;
    private QuicEndpoint? _endpoint;
    private long _pingsSent;
    private long _pingsAnswered;
    private long _pongsReceived;
    private long _openingPingsSent;
    private long _unknownToken;

    public HolePuncher(int capacity, TimeSpan idleLifetime)
    {
        _capacity = capacity;
        _idleLifetime = idleLifetime;
    }

    public long PingsSent => Interlocked.Read(ref _pingsSent);

    public long PingsAnswered => Interlocked.Read(ref _pingsAnswered);

    public long PongsReceived => Interlocked.Read(ref _pongsReceived);

    /// <summary>Pings sent with the low TTL of <see cref="PunchOpening"/> (counted in <see cref="PingsSent"/> too).</summary>
    public long OpeningPingsSent => Interlocked.Read(ref _openingPingsSent);

    /// <summary>Probes dropped because their token belongs to no session (stale, or someone guessing).</summary>
    public long UnknownTokenProbes => Interlocked.Read(ref _unknownToken);

    /// <summary>The socket probes leave from; set once the endpoint is bound (probes before that are not answered).</summary>
    public void Attach(QuicEndpoint endpoint) => _endpoint = endpoint;

    /// <summary>The session for <paramref name="token"/>, made if new; null when the table is full or the token is another peer's.</summary>
    public PunchSession? Open(ReadOnlyMemory<byte> token, NodeId peer)
    {
        if (token.Length != PunchProbe.TokenLength)
        {
            return null;
        }

        var now = Environment.TickCount64;
        var key = PunchProbe.TokenKey(token.Span);
        if (_sessions.TryGetValue(key, out var existing))
        {
            if (existing.Peer != peer)
            {
                return null;
            }

            existing.Touch(now);
            return existing;
        }

        if (_sessions.Count >= _capacity)
        {
            Sweep(now);
            if (_sessions.Count >= _capacity)
            {
                return null;
            }
        }

        var session = new PunchSession(token.ToArray(), peer, now);
        var added = _sessions.GetOrAdd(key, session);
        return added.Peer == peer ? added : null;
    }

    public PunchSession? Find(ReadOnlySpan<byte> token) =>
        token.Length == PunchProbe.TokenLength && _sessions.TryGetValue(PunchProbe.TokenKey(token), out var session) ? session : null;

    public void Close(PunchSession session) => _sessions.TryRemove(new KeyValuePair<UInt128, PunchSession>(session.Key, session));

    /// <summary>Forgets sessions idle for longer than the idle lifetime.</summary>
    public void Sweep(long now)
    {
        foreach (var (key, session) in _sessions)
        {
            if (now - session.LastActivity > (long)_idleLifetime.TotalMilliseconds)
            {
                _sessions.TryRemove(new KeyValuePair<UInt128, PunchSession>(key, session));
            }
        }
    }

    /// <summary>
    /// Sends one ping of <paramref name="session"/> to <paramref name="target"/>, with IP TTL
    /// <paramref name="hopLimit"/> (0: the socket's default).
    /// </summary>
    public bool SendPing(PunchSession session, IPEndPoint target, int hopLimit = 0)
    {
        if (_endpoint is not { } endpoint)
        {
            return false;
        }

        Span<byte> probe = stackalloc byte[PunchProbe.Length];
        PunchProbe.Write(probe, PunchProbeKind.Ping, session.Token.Span, (ulong)Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _pingsSent);
        var destination = PeerAddress.FromEndPoint(target);
        if (hopLimit > 0)
        {
            Interlocked.Increment(ref _openingPingsSent);
            return endpoint.TrySendUnconnected(probe, destination, hopLimit);
        }

        return endpoint.TrySendUnconnected(probe, destination);
    }

    /// <summary>
    /// One probing round: pings every target, again and again with growing gaps (50 ms up to 500 ms), until a pong
    /// comes back (its source is returned: a direct path that works both ways) or <paramref name="duration"/> ends (null).
    /// <paramref name="opening"/> says which of the pings leave with a low TTL.
    /// </summary>
    public async Task<IPEndPoint?> ProbeAsync(PunchSession session, IReadOnlyList<IPEndPoint> targets, TimeSpan duration, PunchOpening opening, CancellationToken cancellationToken)
    {
        if (targets.Count == 0)
        {
            return null;
        }

        var answered = session.BeginRound();
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var gap = FirstProbeGap;
        for (var send = 0; Stopwatch.GetTimestamp() < deadline && !cancellationToken.IsCancellationRequested; send++)
        {
            var hopLimit = opening.HopLimitFor(send, Stopwatch.GetElapsedTime(start), session.PingedThisRound);
            foreach (var target in targets)
            {
                SendPing(session, target, hopLimit);
            }

            if (await Task.WhenAny(answered, Task.Delay(gap, cancellationToken)).ConfigureAwait(false) == answered)
            {
                return await answered.ConfigureAwait(false);
            }

            gap = TimeSpan.FromTicks(Math.Min(gap.Ticks * 2, LongestProbeGap.Ticks));
        }

        return answered.IsCompletedSuccessfully ? answered.Result : null;
    }

    /// <summary>
    /// The endpoint's unroutable-datagram hook (loop thread): answers a ping with a known token, hands a pong to
    /// its session; anything else is not ours and is ignored.
    /// </summary>
    public void OnDatagram(ReadOnlySpan<byte> datagram, PeerAddress source)
    {
        if (!PunchProbe.TryRead(datagram, out var kind, out var key, out var echo))
        {
            return;
        }

        if (!_sessions.TryGetValue(key, out var session))
        {
            Interlocked.Increment(ref _unknownToken);
            return;
        }

        var now = Environment.TickCount64;
        if (kind == PunchProbeKind.Ping)
        {
            session.OnPing(now);
            Span<byte> pong = stackalloc byte[PunchProbe.Length];
            PunchProbe.Write(pong, PunchProbeKind.Pong, session.Token.Span, echo);
            if (_endpoint?.TrySendUnconnected(pong, source) == true)
            {
                Interlocked.Increment(ref _pingsAnswered);
            }

            return;
        }

        Interlocked.Increment(ref _pongsReceived);
        session.OnPong(source.ToEndPoint(), Stopwatch.GetElapsedTime((long)echo), now);
    }
}
