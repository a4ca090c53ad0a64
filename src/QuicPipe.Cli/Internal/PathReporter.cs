using System.Net;
using System.Threading.Channels;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Tells the user (stderr) which way a connection goes: a line <c>path: relayed|direct ADDR rtt Nms peer NODEID</c>
/// at the start and at each change (scripts wait for these), and with a stats interval a line
/// <c>stats: path KIND ADDR via_relay N direct N rtt Nms</c> (bytes sent plus received on each kind of path).
/// </summary>
internal sealed class PathReporter : IAsyncDisposable
{
    /// <summary>
    /// How long a change line waits for the new path's first RTT sample. Short: the line is the news (scripts wait for
    /// it), and right after a move off a dead path the first acknowledgement can take a second or more to come.
    /// </summary>
    private static readonly TimeSpan ChangeRttWait = TimeSpan.FromMilliseconds(250);

    private readonly PeerPath _path;
    private readonly Channel<PeerPathChangedEventArgs> _changes = Channel.CreateUnbounded<PeerPathChangedEventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private Task _printing = Task.CompletedTask;
    private Task _stats = Task.CompletedTask;

    private PathReporter(PeerPath path)
    {
        _path = path;
        path.Changed += OnChanged;
    }

    /// <summary>
    /// Prints the first path line (where the connection started), then follows the connection until disposed.
    /// Subscribes before it reads anything: on a LAN the dialer moves the connection to a direct path within
    /// milliseconds, often before this runs, and a move between a read and the subscription would never be printed.
    /// A move that already happened is printed as a change right after the first line.
    /// </summary>
    public static async Task<PathReporter> StartAsync(PeerPath path, TimeSpan statsInterval, CancellationToken cancellationToken)
    {
        var reporter = new PathReporter(path);
        try
        {
            var stats = await path.Connection.GetStatsAsync(cancellationToken).ConfigureAwait(false);
            await WriteAsync(PathLine(path.InitialKind, path.InitialRemote.ToString(), stats.SmoothedRtt, path.Connection.RemoteNodeId)).ConfigureAwait(false);
            var now = path.Remote;
            if (!now.Equals(path.InitialRemote))
            {
                reporter._changes.Writer.TryWrite(new PeerPathChangedEventArgs(path.InitialKind, path.InitialRemote, path.Kind, now));
            }

            reporter._printing = reporter.PrintChangesAsync(path.InitialRemote, reporter._stop.Token);
            reporter._stats = statsInterval > TimeSpan.Zero ? reporter.PrintStatsAsync(statsInterval, reporter._stop.Token) : Task.CompletedTask;
            return reporter;
        }
        catch
        {
            await reporter.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _path.Changed -= OnChanged;
        _changes.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_printing, _stats).ConfigureAwait(false);
        _stop.Dispose();
    }

    private static string PathLine(PeerPathKind kind, string remote, TimeSpan rtt, NodeId? peer) =>
        $"path: {(kind == PeerPathKind.Direct ? "direct" : "relayed")} {remote} rtt {rtt.TotalMilliseconds:0.###}ms peer {peer}";

    private static Task WriteAsync(string line) => Console.Error.WriteLineAsync(line);

    // Loop thread: only queue; the RTT wait and the write happen on the printing task.
    private void OnChanged(object? sender, PeerPathChangedEventArgs e) => _changes.Writer.TryWrite(e);

    private async Task PrintChangesAsync(IPEndPoint printed, CancellationToken stop)
    {
        try
        {
            await foreach (var change in _changes.Reader.ReadAllAsync(stop).ConfigureAwait(false))
            {
                if (change.Remote.Equals(printed))
                {
                    continue; // the move StartAsync found already queued, then its own event (or the other way round)
                }

                printed = change.Remote;
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
            while (true)
            {
                await Task.Delay(interval, stop).ConfigureAwait(false);
                var traffic = await _path.GetTrafficAsync(stop).ConfigureAwait(false);
                var stats = await _path.Connection.GetStatsAsync(stop).ConfigureAwait(false);
                var kind = _path.Kind == PeerPathKind.Direct ? "direct" : "relayed";
                await WriteAsync($"stats: path {kind} {_path.Remote} via_relay {traffic.ViaRelay} direct {traffic.Direct} rtt {stats.SmoothedRtt.TotalMilliseconds:0.###}ms").ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
