using System.Net;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>
/// The path of one peer connection: relayed or direct, where to, what changed, and how many bytes went each way.
/// Obtained from <see cref="PeerEndpoint.GetPath"/>. Both sides have one; the dialing side is the one that moves
/// the connection (QUIC migration is the client's), the accepting side follows and reports the same changes.
/// </summary>
public sealed class PeerPath
{
    private readonly IReadOnlyList<IPEndPoint> _relays;
    private readonly Func<IPEndPoint, IPEndPoint> _shownAs;
    private const int HistoryLength = 32;
    private readonly Lock _gate = new();
    private readonly Queue<PeerPathChangedEventArgs> _history = new();
    private Task _accounting = Task.CompletedTask;
    private long _accountedTotal;
    private long _viaRelay;
    private long _direct;

    // The relay the connection goes through whenever it is relayed: the one it was dialed through, until it moves to
    // another (the dialer moves it when its relay is lost; the accepter follows when packets arrive from there).
    private volatile IPEndPoint _relay;

    /// <param name="connection">The connection whose path this is.</param>
    /// <param name="relay">The relay the connection was set up through.</param>
    /// <param name="relays">Every relay of the endpoint: packets to one of them are relayed, to anywhere else direct.</param>
    /// <param name="shownAs">
    /// The address to report for where packets go: the same, except that a port search's bridge (a local socket our
    /// packets pass through) is reported as the other peer's address beyond it.
    /// </param>
    internal PeerPath(QuicConnection connection, IPEndPoint relay, IReadOnlyList<IPEndPoint> relays, Func<IPEndPoint, IPEndPoint> shownAs)
    {
        Connection = connection;
        _relay = relay;
        _relays = relays;
        _shownAs = shownAs;
        InitialRemote = connection.RemoteEndPoint;
        connection.PathChanged += OnEnginePathChanged;
    }

    public QuicConnection Connection { get; }

    /// <summary>
    /// Where the connection started (the relay). The dialer may move it within milliseconds of connecting, before the
    /// application subscribes to <see cref="Changed"/>; with this a late subscriber can still tell the whole story.
    /// </summary>
    public IPEndPoint InitialRemote { get; }

    /// <summary>The kind of <see cref="InitialRemote"/>: relayed, for every connection a peer endpoint makes.</summary>
    public PeerPathKind InitialKind => KindOf(InitialRemote);

    /// <summary>Relayed or direct, now.</summary>
    public PeerPathKind Kind => KindOf(Connection.RemoteEndPoint);

    /// <summary>Where the connection's packets go now (the other peer's address when they pass through a port-search bridge).</summary>
    public IPEndPoint Remote => _shownAs(Connection.RemoteEndPoint);

    /// <summary>
    /// The relay the connection goes through when relayed (now, if <see cref="Kind"/> is relayed): the one it was set up
    /// through, or the one it moved to when that relay was lost.
    /// </summary>
    public IPEndPoint Relay => _relay;

    /// <summary>Times the path changed kind or address.</summary>
    public int Changes { get; private set; }

    /// <summary>The round-trip time when the connection was set up (on its initial path).</summary>
    public TimeSpan InitialRtt { get; private set; }

    /// <summary>
    /// The last changes (up to 32), oldest first. A change can happen before anyone subscribes to
    /// <see cref="Changed"/> (on loopback a direct path is found within milliseconds): subscribe first, then read this,
    /// and skip what <see cref="PeerPathChangedEventArgs.Sequence"/> says was already seen.
    /// </summary>
    public IReadOnlyList<PeerPathChangedEventArgs> History
    {
        get
        {
            lock (_gate)
            {
                return [.. _history];
            }
        }
    }

    /// <summary>
    /// The connection moved (to a direct path, back to the relay, or to the peer's new address). Raised on the QUIC
    /// endpoint's loop thread: keep handlers short and do not block.
    /// </summary>
    public event EventHandler<PeerPathChangedEventArgs>? Changed;

    /// <summary>Bytes so far via the relay and direct.</summary>
    public async Task<PeerPathTraffic> GetTrafficAsync(CancellationToken cancellationToken = default)
    {
        Task accounting;
        lock (_gate)
        {
            accounting = _accounting;
        }

        await accounting.WaitAsync(cancellationToken).ConfigureAwait(false);
        var kind = Kind;
        var total = await TotalBytesAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var pending = total is { } t ? Math.Max(0, t - _accountedTotal) : 0;
            return kind == PeerPathKind.Relayed ? new PeerPathTraffic(_viaRelay + pending, _direct) : new PeerPathTraffic(_viaRelay, _direct + pending);
        }
    }

    /// <summary>
    /// The round-trip time on the current path once it has a sample: after a move, the congestion controller starts
    /// over and reports its initial guess until the first acknowledgement, so this waits (at most 1 s) for one.
    /// </summary>
    public Task<TimeSpan> MeasureRttAsync(CancellationToken cancellationToken = default) => MeasureRttAsync(TimeSpan.FromSeconds(1), cancellationToken);

    /// <summary>
    /// As <see cref="MeasureRttAsync(CancellationToken)"/>, waiting at most <paramref name="maxWait"/> for a sample
    /// (then the initial guess is returned): for callers that report a change and must not hold it back for long.
    /// </summary>
    public async Task<TimeSpan> MeasureRttAsync(TimeSpan maxWait, CancellationToken cancellationToken = default)
    {
        var deadline = Environment.TickCount64 + (long)maxWait.TotalMilliseconds;
        var stats = await Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        while (stats.LatestRtt == TimeSpan.Zero && Environment.TickCount64 < deadline)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            stats = await Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        }

        return stats.SmoothedRtt; // equal to the first sample once there is one
    }

    /// <summary>Reads the set-up RTT; called once the handshake is done, before the path can change.</summary>
    internal async Task CaptureInitialRttAsync(CancellationToken cancellationToken)
    {
        var stats = await Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        InitialRtt = stats.SmoothedRtt;
    }

    internal PeerPathKind KindOf(IPEndPoint remote) => IsRelay(remote) ? PeerPathKind.Relayed : PeerPathKind.Direct;

    /// <summary>The dialer moves the connection onto <paramref name="relay"/> (where it goes whenever relayed from now on).</summary>
    internal void UseRelay(IPEndPoint relay) => _relay = relay;

    private bool IsRelay(IPEndPoint remote)
    {
        foreach (var relay in _relays)
        {
            if (relay.Equals(remote))
            {
                return true;
            }
        }

        return false;
    }

    private void OnEnginePathChanged(object? sender, QuicPathChangedEventArgs e)
    {
        if (e.OldRemoteEndPoint.Equals(e.NewRemoteEndPoint))
        {
            return; // a failed probe of another path, or a local port move: where packets go did not change
        }

        if (IsRelay(e.NewRemoteEndPoint))
        {
            _relay = e.NewRemoteEndPoint;
        }

        var previousKind = KindOf(e.OldRemoteEndPoint);
        var change = new PeerPathChangedEventArgs(++Changes, previousKind, _shownAs(e.OldRemoteEndPoint), KindOf(e.NewRemoteEndPoint), _shownAs(e.NewRemoteEndPoint));

        // Loop thread: the stats request runs right after this callback, so it splits the bytes at the switch.
        var stats = TotalBytesAsync(CancellationToken.None);
        lock (_gate)
        {
            _accounting = AccountAsync(_accounting, stats, previousKind);
            if (_history.Count == HistoryLength)
            {
                _history.Dequeue();
            }

            _history.Enqueue(change);
        }

        Changed?.Invoke(this, change);
    }

    private async Task AccountAsync(Task previous, Task<long?> stats, PeerPathKind kindBefore)
    {
        await previous.ConfigureAwait(false);
        if (await stats.ConfigureAwait(false) is not { } total)
        {
            return;
        }

        lock (_gate)
        {
            var delta = Math.Max(0, total - _accountedTotal);
            _accountedTotal = total;
            if (kindBefore == PeerPathKind.Relayed)
            {
                _viaRelay += delta;
            }
            else
            {
                _direct += delta;
            }
        }
    }

    private async Task<long?> TotalBytesAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stats = await Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
            return stats.BytesSent + stats.BytesReceived;
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or InvalidOperationException)
        {
            return null; // the connection or its endpoint ended: the last split stands
        }
    }
}
