using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Vpn.Internal;

namespace QuicPipe.Vpn;

/// <summary>
/// The VPN's state, shared by its two halves on one server: the TUN listener's stages
/// (<see cref="VpnListenerBuilderExtensions.UseVpn"/>: route each IP packet to the peer whose prefixes cover its
/// destination, answer what cannot go with ICMP, hand the rest to the peer's connection as DATAGRAMs) and the peer's
/// QUIC connection handler (<see cref="OnConnectedAsync"/>: a listed peer's connection carries its packets, checked
/// against its prefixes, into the TUN device). A connection is dialled on the first packet for a peer, or accepted
/// from it; the newest one to a peer wins. It starts relayed and moves to the direct path as every peer connection
/// does (the peer endpoint migrates it), which the packets do not notice.
/// </summary>
public sealed partial class VpnRouter : IAsyncDisposable
{
    private readonly PeerEndpoint _peer;
    private readonly Func<NodeId, CancellationToken, Task<QuicConnection>> _dial;
    private readonly VpnPeer[] _peers;
    private readonly CancellationTokenSource _stopping = new();
    private TunTransport? _tun;

    /// <summary>A VPN whose peers are dialled through <paramref name="peer"/>'s relays.</summary>
    public VpnRouter(PeerEndpoint peer, VpnOptions options, ILoggerFactory? loggerFactory = null)
        : this(peer, options, (peer ?? throw new ArgumentNullException(nameof(peer))).DialAsync, loggerFactory)
    {
    }

    /// <summary>
    /// A VPN whose peers are dialled with <paramref name="dial"/>: another way to reach them than the endpoint's relays
    /// (a circuit through mesh neighbours, docs/circuits.md). It must end by itself (its own timeout); its token
    /// fires when the VPN stops.
    /// </summary>
    public VpnRouter(PeerEndpoint peer, VpnOptions options, Func<NodeId, CancellationToken, Task<QuicConnection>> dial, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dial);
        options.Validate();
        _peer = peer;
        _dial = dial;
        Options = options;
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<VpnRouter>();
        var routes = new List<(IpPrefix, int)>();
        _peers = new VpnPeer[options.Peers.Count];
        for (var i = 0; i < _peers.Length; i++)
        {
            var peerOptions = options.Peers[i];
            _peers[i] = new VpnPeer(this, i, peerOptions, options.PendingPacketsPerPeer, MaxPacketSize);
            foreach (var prefix in peerOptions.AllowedPrefixes)
            {
                routes.Add((prefix, i));
            }
        }

        // Refuses a prefix given to two peers: one prefix, one peer.
        Routes = new PrefixTable<int>(routes);
    }

    /// <summary>Largest IP packet the VPN carries: one DATAGRAM on a 1500-byte path.</summary>
    public const int MaxPacketSize = 1500;

    /// <summary>A connection to a peer came up (dialled or accepted); raised on the thread that attached it.</summary>
    public event EventHandler<VpnPeerConnectedEventArgs>? PeerConnected;

    public VpnOptions Options { get; }

    public VpnCounters Counters { get; } = new();

    /// <summary>Peer prefixes to the index of their peer in <see cref="VpnOptions.Peers"/>.</summary>
    public PrefixTable<int> Routes { get; }

    /// <summary>Peers with a live connection now.</summary>
    public int ConnectedPeers => _peers.Count(p => p.Connection is { Closed.IsCompleted: false });

    internal ILogger Logger { get; }

    internal IReadOnlyList<VpnPeer> Peers => _peers;

    /// <summary>This node's identity, which orders the announcements of two peers started together.</summary>
    internal NodeId LocalNodeId => _peer.NodeId;

    /// <summary>The TUN device packets from peers are written into, with its counters: set while its listener runs.</summary>
    public TunTransport? Tun => Volatile.Read(ref _tun);

    /// <summary>
    /// The handler of the peer endpoint's incoming connections (<c>udp.UsePeer(peer, c =&gt; c.Run(vpn.OnConnectedAsync))</c>):
    /// a listed peer's connection carries its packets until it ends or the server stops; anyone else's is closed.
    /// </summary>
    public async Task OnConnectedAsync(MultiplexedConnectionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
        var peer = Array.Find(_peers, p => p.Options.NodeId == connection.RemoteNodeId);
        if (peer is null)
        {
            await connection.CloseAsync(VpnErrorCodes.NotAPeer, "not a peer of this VPN").ConfigureAwait(false);
            return;
        }

        peer.Attach(connection);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CloseRequested(), _stopping.Token);
        try
        {
            await connection.Closed.WaitAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or OperationCanceledException)
        {
            // Over: the peer left, or the server is stopping (which closes the connection).
        }
    }

    /// <summary>
    /// Dials every peer now rather than on its first packet: after a restart the peers' old connections to us are
    /// dead, and a fresh one from us replaces them at once instead of when they time out. A peer whose NodeId is
    /// lower than ours is dialled only after <see cref="AnnounceStagger"/>, and not at all if it has dialled us by
    /// then: two processes started together would otherwise open a connection each, and each side could keep a
    /// different one and close the other's. Failures are logged.
    /// </summary>
    public void AnnounceToPeers()
    {
        foreach (var peer in _peers)
        {
            if (LocalNodeId.Bytes.SequenceCompareTo(peer.Options.NodeId.Bytes) < 0)
            {
                peer.Announce();
            }
            else
            {
                _ = AnnounceLaterAsync(peer);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var peer in _peers)
        {
            await peer.CloseAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>How long the higher NodeId of two peers waits before dialling the other at start.</summary>
    internal static readonly TimeSpan AnnounceStagger = TimeSpan.FromSeconds(1);

    internal void AttachTun(TunTransport? tun) => Volatile.Write(ref _tun, tun);

    private async Task AnnounceLaterAsync(VpnPeer peer)
    {
        try
        {
            await Task.Delay(AnnounceStagger, _stopping.Token).ConfigureAwait(false);
            peer.Announce();
        }
        catch (OperationCanceledException)
        {
            // The VPN stopped first.
        }
    }

    /// <summary>The dial bounds itself (the peer endpoint's DialTimeout per step); the VPN stopping ends it early.</summary>
    internal Task<QuicConnection> DialAsync(NodeId peer) => _dial(peer, _stopping.Token);

    internal void OnPeerConnected(VpnPeer peer, QuicConnection connection)
    {
        LogPeerConnected(Logger, peer.Options.NodeId);
        PeerConnected?.Invoke(this, new VpnPeerConnectedEventArgs(peer.Options.NodeId, connection));
    }

    internal void OnPeerDisconnected(VpnPeer peer, QuicConnection connection) =>
        LogPeerDisconnected(Logger, peer.Options.NodeId, connection.CloseReason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "vpn: connected to {Peer}")]
    private static partial void LogPeerConnected(ILogger logger, NodeId peer);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "vpn: connection to {Peer} ended: {Reason}")]
    private static partial void LogPeerDisconnected(ILogger logger, NodeId peer, string? reason);
}

/// <summary>A connection to a VPN peer came up.</summary>
public sealed class VpnPeerConnectedEventArgs(NodeId peer, QuicConnection connection) : EventArgs
{
    public NodeId Peer { get; } = peer;

    public QuicConnection Connection { get; } = connection;
}

/// <summary>QUIC application error codes a VPN closes connections with.</summary>
public static class VpnErrorCodes
{
    /// <summary>The dialer is not one of this VPN's peers.</summary>
    public const long NotAPeer = 0x5650_0001;
}
