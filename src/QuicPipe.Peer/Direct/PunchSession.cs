using System.Net;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// The direct-path state of one connection as the probes see it: its punch token, the peer it was exchanged with,
/// and the last answer (pong) that came back from each direct address. Written on the QUIC loop thread (probes
/// arrive there), read by the tasks that probe; a lock keeps the two apart, at probe rate, not packet rate.
/// </summary>
internal sealed class PunchSession
{
    private readonly Lock _gate = new();
    private readonly Dictionary<IPEndPoint, (long At, TimeSpan Rtt)> _pongs = [];
    private TaskCompletionSource<IPEndPoint>? _round;
    private long _lastActivity;
    private bool _pingedThisRound;
    private int _searched;

    public PunchSession(ReadOnlyMemory<byte> token, NodeId peer, long now)
    {
        Token = token;
        Key = PunchProbe.TokenKey(token.Span);
        Peer = peer;
        _lastActivity = now;
    }

    public ReadOnlyMemory<byte> Token { get; }

    public UInt128 Key { get; }

    public NodeId Peer { get; }

    /// <summary>Environment.TickCount64 of the last probe, request or pong seen for this session.</summary>
    public long LastActivity => Interlocked.Read(ref _lastActivity);

    public void Touch(long now) => Interlocked.Exchange(ref _lastActivity, now);

    /// <summary>True the first time only: a connection gets one port search (docs/nat-traversal.md, section 3a).</summary>
    public bool TryMarkSearched() => Interlocked.Exchange(ref _searched, 1) == 0;

    /// <summary>Whether a ping of the other peer's reached us since the current probing round began.</summary>
    public bool PingedThisRound => Volatile.Read(ref _pingedThisRound);

    /// <summary>Starts a probing round: its task completes with the first address a pong comes back from.</summary>
    public Task<IPEndPoint> BeginRound()
    {
        lock (_gate)
        {
            Volatile.Write(ref _pingedThisRound, false);
            _round = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
            return _round.Task;
        }
    }

    /// <summary>Loop thread: a ping of the other peer's arrived (it is answered by the hole puncher).</summary>
    public void OnPing(long now)
    {
        Touch(now);
        Volatile.Write(ref _pingedThisRound, true);
    }

    /// <summary>Loop thread: a pong from <paramref name="from"/> answered one of our pings after <paramref name="rtt"/>.</summary>
    public void OnPong(IPEndPoint from, TimeSpan rtt, long now)
    {
        Touch(now);
        lock (_gate)
        {
            if (_pongs.Count >= PathCandidates.MaxCount * 2 && !_pongs.ContainsKey(from))
            {
                _pongs.Clear(); // bounded: only the newest addresses matter
            }

            _pongs[from] = (now, rtt);
            _round?.TrySetResult(from);
        }
    }

    /// <summary>When the last pong from <paramref name="address"/> arrived (TickCount64), and its RTT; null if never.</summary>
    public (long At, TimeSpan Rtt)? LastPong(IPEndPoint address)
    {
        lock (_gate)
        {
            return _pongs.TryGetValue(address, out var pong) ? pong : null;
        }
    }
}
