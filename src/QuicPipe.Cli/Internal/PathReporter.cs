using System.Threading.Channels;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Tells the user (stderr) which way a connection goes: a line <c>path: relayed|direct ADDR rtt Nms peer NODEID</c>
/// at the start and at each change (scripts wait for these), and with a stats interval a line
/// <c>stats: path KIND ADDR via_relay N direct N rtt Nms</c> (bytes sent plus received on each kind of path), and one
/// more at the end, so even a transfer shorter than the interval reports its totals.
/// </summary>
internal sealed class PathReporter : IAsyncDisposable
{
    // A change line waits this long at most for the new path's first RTT sample: after leaving a dead path the first
    // acknowledgement can take over a second, and scripts wait for the line itself.
    private static readonly TimeSpan ChangeRttWait = TimeSpan.FromMilliseconds(100);

    // The last stats line at the end may not hold up the exit for long.
    private static readonly TimeSpan FinalStatsWait = TimeSpan.FromMilliseconds(500);

    private readonly PeerPath _path;
    private readonly Channel<PeerPathChangedEventArgs> _changes = Channel.CreateUnbounded<PeerPathChangedEventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _printing;
    private readonly Task _stats;
    private readonly bool _printStats;

    private PathReporter(PeerPath path, TimeSpan statsInterval)
    {
        _path = path;
        _printStats = statsInterval > TimeSpan.Zero;

        // Subscribe, then replay what happened before (a direct path can be found before anyone listens); the
        // sequence numbers drop what both deliver.
        path.Changed += OnChanged;
        foreach (var change in path.History)
        {
            _changes.Writer.TryWrite(change);
        }

        _printing = PrintChangesAsync(_stop.Token);
        _stats = _printStats ? PrintStatsAsync(statsInterval, _stop.Token) : Task.CompletedTask;
    }

    /// <summary>Prints the line for where the connection started, then follows it until disposed.</summary>
    public static async Task<PathReporter> StartAsync(PeerPath path, TimeSpan statsInterval)
    {
        await WriteAsync(PathLine(path.InitialKind, path.InitialRemote.ToString(), path.InitialRtt, path.Connection.RemoteNodeId)).ConfigureAwait(false);
        return new PathReporter(path, statsInterval);
    }

    public async ValueTask DisposeAsync()
    {
        _path.Changed -= OnChanged;
        _changes.Writer.TryComplete();
        try
        {
            // A change queued just before the end still gets its line (scripts read them), but a slow RTT wait does
            // not hold up the exit for long.
            await _printing.WaitAsync(TimeSpan.FromMilliseconds(300)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_printing, _stats).ConfigureAwait(false);
        _stop.Dispose();
        if (_printStats)
        {
            using var limit = new CancellationTokenSource(FinalStatsWait);
            await TryWriteStatsAsync(limit.Token).ConfigureAwait(false);
        }
    }

    private static string PathLine(PeerPathKind kind, string remote, TimeSpan rtt, NodeId? peer) =>
        $"path: {(kind == PeerPathKind.Direct ? "direct" : "relayed")} {remote} rtt {rtt.TotalMilliseconds:0.###}ms peer {peer}";

    private static Task WriteAsync(string line) => Console.Error.WriteLineAsync(line);

    // Loop thread: only queue; the RTT wait and the write happen on the printing task.
    private void OnChanged(object? sender, PeerPathChangedEventArgs e) => _changes.Writer.TryWrite(e);

    private async Task PrintChangesAsync(CancellationToken stop)
    {
        try
        {
            var printed = 0;
            await foreach (var change in _changes.Reader.ReadAllAsync(stop).ConfigureAwait(false))
            {
                if (change.Sequence <= printed)
                {
                    continue;
                }

                printed = change.Sequence;
                var rtt = await _path.MeasureRttAsync(ChangeRttWait, stop).ConfigureAwait(false);
                await WriteAsync(PathLine(change.Kind, change.Remote.ToString(), rtt, _path.Connection.RemoteNodeId)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or ObjectDisposedException)
        {
            // Stopping, or the connection ended while a line was being measured.
        }
    }

    private async Task PrintStatsAsync(TimeSpan interval, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(interval, stop).ConfigureAwait(false);
                await TryWriteStatsAsync(stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One stats line; none if the connection is gone or <paramref name="cancellationToken"/> fires first.</summary>
    private async Task TryWriteStatsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var traffic = await _path.GetTrafficAsync(cancellationToken).ConfigureAwait(false);
            var stats = await _path.Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
            var kind = _path.Kind == PeerPathKind.Direct ? "direct" : "relayed";
            await WriteAsync($"stats: path {kind} {_path.Remote} via_relay {traffic.ViaRelay} direct {traffic.Direct} rtt {stats.SmoothedRtt.TotalMilliseconds:0.###}ms").ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
