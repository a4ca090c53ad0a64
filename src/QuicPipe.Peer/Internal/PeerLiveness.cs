using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using QuicPipe.Quic;

namespace QuicPipe.Peer.Internal;

/// <summary>
/// Notices a peer that vanished without a word (killed, its host or network gone): a connection is closed as lost
/// when nothing came from the peer for the peer timeout while the path the connection uses was alive. While the path
/// is down (the relay stopped answering its pings), the peer's silence is not counted: a relay that comes back within
/// the QUIC idle timeout finds the connection still there, and the transfer resumes: at once, because the connection
/// is told to probe when its path is back (see <see cref="ProbeAfterOutage"/>).
/// </summary>
/// <remarks>
/// The QUIC idle timeout alone cannot tell the two apart: short, it kills connections whose relay restarts or whose
/// handshake loses a few packets; long, a dead peer is noticed late. So the idle timeout is long and bounds only truly
/// dead paths, and this watch (as QUIC stacks' and Tailscale's application-level liveness does) decides about the
/// peer. The keep-alives (a quarter of the peer timeout) give a live peer something to answer meanwhile.
/// A packet counts as heard when the endpoint took it for the connection, before decryption: a forged packet with
/// the connection's CID could delay the verdict, but never past the idle timeout, which only authentic packets reset.
/// </remarks>
internal sealed partial class PeerLiveness
{
    /// <summary>The application error code a connection is closed with when its peer is declared lost.</summary>
    public const long PeerLostErrorCode = 0x5054; // "PT": peer timeout

    private readonly TimeSpan _peerTimeout;
    private readonly TimeSpan _tick;
    private readonly Func<QuicConnection, bool> _pathAlive;
    private readonly ILogger _logger;

    // Every connection watched, with how long its peer has been silent while its path was alive.
    private readonly ConcurrentDictionary<QuicConnection, Silence> _watched = new();

    /// <param name="peerTimeout">How long a peer may be silent while its path is alive.</param>
    /// <param name="pathAlive">Whether the path a connection uses now is known to be alive (asked at every check).</param>
    /// <param name="logger">The endpoint's logger.</param>
    public PeerLiveness(TimeSpan peerTimeout, Func<QuicConnection, bool> pathAlive, ILogger logger)
    {
        _peerTimeout = peerTimeout;
        _pathAlive = pathAlive;
        _logger = logger;

        // Eight checks per timeout, at most four a second: the verdict comes at most an eighth late.
        _tick = peerTimeout / 8 < TimeSpan.FromMilliseconds(250) ? peerTimeout / 8 : TimeSpan.FromMilliseconds(250);
    }

    /// <summary>Connections watched now (for tests and diagnostics).</summary>
    public int Count => _watched.Count;

    /// <summary>Watches <paramref name="connection"/> from now until it ends.</summary>
    public void Watch(QuicConnection connection) => _watched.TryAdd(connection, new Silence());

    /// <summary>Checks every watched connection at each tick until <paramref name="stopping"/> fires.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_tick);
        var last = Stopwatch.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                // Measured, not assumed: a process starved of CPU counts the time that really passed.
                var now = Stopwatch.GetTimestamp();
                var elapsed = Stopwatch.GetElapsedTime(last, now);
                last = now;
                await Task.WhenAll(_watched.Select(w => CheckAsync(w.Key, w.Value, elapsed, stopping))).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task CheckAsync(QuicConnection connection, Silence silence, TimeSpan elapsed, CancellationToken stopping)
    {
        if (connection.Closed.IsCompleted)
        {
            _watched.TryRemove(connection, out _);
            return;
        }

        long received;
        try
        {
            received = (await connection.GetStatsAsync(stopping).ConfigureAwait(false)).PacketsReceived;
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or QuicConnectionException)
        {
            return; // the endpoint is stopping: the connection ends with it
        }

        var heard = received != silence.PacketsReceived;
        if (heard)
        {
            silence.PacketsReceived = received;
            silence.For = TimeSpan.Zero;
        }

        if (!_pathAlive(connection))
        {
            // The path is down: the peer could not be heard, so its silence proves nothing.
            silence.ProbeUntilHeard = true;
            return;
        }

        ProbeAfterOutage(connection, silence, heard);
        if (heard)
        {
            return;
        }

        silence.For += elapsed;
        if (silence.For < _peerTimeout || !_watched.TryRemove(connection, out _))
        {
            return;
        }

        LogPeerLost(_logger, connection.RemoteNodeId, _peerTimeout.TotalSeconds);
        try
        {
            // Ended locally without an error, as an idle timeout ends it; the peer, if it hears this, learns why.
            await connection.CloseAsync(PeerLostErrorCode, $"nothing from you for {_peerTimeout.TotalSeconds:0.###} s (peer timeout)", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or QuicConnectionException)
        {
        }
    }

    /// <summary>
    /// After an outage the connection's probe timer has backed off to about as long as the outage lasted, so it probes
    /// now (<see cref="QuicConnection.ProbeNow"/>) rather than then: at every check from when its path is back until the
    /// peer is heard again, and once more then (a probe sent before the peer was back at the relay too is lost, and
    /// what the peer sends first need not acknowledge ours). A connection whose probes were answered ignores the call;
    /// the engine bounds how much of the idle timeout the early probes may take.
    /// </summary>
    private static void ProbeAfterOutage(QuicConnection connection, Silence silence, bool heard)
    {
        if (silence.ProbeUntilHeard)
        {
            connection.ProbeNow();
            silence.ProbeUntilHeard = !heard;
        }
    }

    [LoggerMessage(EventId = 48, Level = LogLevel.Information, Message = "Peer {Peer} lost: nothing from it for {Seconds} s while its path was alive")]
    private static partial void LogPeerLost(ILogger logger, NodeId? peer, double seconds);

    /// <summary>One connection's count: touched only by its check, one at a time (the ticks do not overlap).</summary>
    private sealed class Silence
    {
        public long PacketsReceived { get; set; } = -1;

        public TimeSpan For { get; set; }

        /// <summary>Its path was down: see <see cref="ProbeAfterOutage"/>.</summary>
        public bool ProbeUntilHeard { get; set; }
    }
}
