using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>Settings of a <see cref="PeerTunnelConnector"/>.</summary>
public sealed class PeerTunnelConnectorOptions
{
    /// <summary>
    /// How long dialing the peer (when there is no connection to it yet), opening the stream and waiting for the
    /// status byte may take together before the outcome is <see cref="PeerTunnelOutcome.TimedOut"/>. Not negative and
    /// at most 2^32 - 2 ms (about 49.7 days, the longest a timer counts).
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Opens TCP-over-QUIC tunnels to ports on any peer, on demand: the proxies' way to the peers. It keeps one QUIC
/// connection per peer, dialed with the given function on first use (and again after it closed), and speaks the
/// forwarding side of docs/tcp-over-quic.md on it, so the peer needs nothing but a <see cref="TcpExposer"/>
/// (<c>quicpipe expose</c>).
/// </summary>
public sealed class PeerTunnelConnector : IAsyncDisposable
{
    private readonly PeerTunnelConnectorOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly PeerConnectionCache _connections;

    /// <param name="dial">
    /// Connects to a peer. Throw <see cref="PeerDialException"/> to say why it failed; any other failure counts as
    /// <see cref="PeerTunnelOutcome.PeerUnreachable"/>. Its token fires when the connector is disposed. It must end
    /// by itself (its own timeout): requests waiting on a dial give up after <c>ConnectTimeout</c>, but later
    /// requests for the same peer wait on that same dial until it ends.
    /// </param>
    /// <param name="options">Timeouts.</param>
    public PeerTunnelConnector(Func<NodeId, CancellationToken, Task<QuicConnection>> dial, PeerTunnelConnectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(dial);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ConnectTimeout, TimeSpan.Zero, nameof(options.ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ConnectTimeout, TimerLimit.Max, nameof(options.ConnectTimeout));
        _options = options;
        _connections = new PeerConnectionCache(dial, _stop.Token);
    }

    /// <summary>
    /// Opens a tunnel to <paramref name="port"/> on <paramref name="peer"/>'s loopback. The stream is returned only
    /// with <see cref="PeerTunnelOutcome.Connected"/>; the caller owns it then. Never throws for a failure of the
    /// peer or the network; throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/>
    /// fires or the connector is disposed.
    /// </summary>
    public async Task<(PeerTunnelOutcome Outcome, QuicStream? Stream)> ConnectAsync(NodeId peer, int port, CancellationToken cancellationToken = default)
    {
        var header = new TunnelHeader(port).ToArray();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        using var setup = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        setup.CancelAfter(_options.ConnectTimeout);
        try
        {
            QuicConnection connection;
            try
            {
                connection = await _connections.GetAsync(peer).WaitAsync(setup.Token).ConfigureAwait(false);
            }
            catch (PeerDialException e)
            {
                return (e.Outcome, null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return (e is TimeoutException ? PeerTunnelOutcome.TimedOut : PeerTunnelOutcome.PeerUnreachable, null);
            }

            var (status, stream) = await TunnelOpener.OpenAsync(connection, header, setup.Token, stopping.Token).ConfigureAwait(false);
            return (ToOutcome(status), stream);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (PeerTunnelOutcome.TimedOut, null);
        }
    }

    /// <summary>Peers with a dial in progress or a live connection (failed dials and closed connections are dropped).</summary>
    public int PeerCount => _connections.Count;

    /// <summary>Closes the connections to peers (their tunnels end with them) and fails pending connects.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_connections.Established().Select(CloseQuietlyAsync)).ConfigureAwait(false);
        _stop.Dispose();
    }

    private static PeerTunnelOutcome ToOutcome(TunnelStatus status) => status switch
    {
        TunnelStatus.Ok => PeerTunnelOutcome.Connected,
        TunnelStatus.Refused => PeerTunnelOutcome.PortRefused,
        TunnelStatus.Unreachable => PeerTunnelOutcome.TargetUnreachable,
        TunnelStatus.NotAllowed => PeerTunnelOutcome.PeerRefused,
        _ => PeerTunnelOutcome.Failed,
    };

    /// <summary>Tells the peer we are going (so its side of the tunnels ends at once) without letting a slow peer delay us.</summary>
    private static async Task CloseQuietlyAsync(QuicConnection connection)
    {
        try
        {
            await connection.CloseAsync(0, "proxy stopped").WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or QuicConnectionException or ObjectDisposedException)
        {
        }
    }
}
