using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Mesh;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Vpn;
using QuicPipe.Vpn.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe vpn</c>: one server with the TUN device (<c>ListenTun(...).UseVpn(router)</c>) and
/// the peer's UDP listener, whose incoming connections go to the router; both halves share one
/// <see cref="VpnRouter"/>. With neighbours (<c>--neighbor</c>) a peer no relay knows is reached through a circuit, and
/// circuits from the peers end in the router as relayed connections do (<see cref="PeerReach"/>). Prints <c>vpn up: ...</c>
/// once the device exists and the relay has us, a <c>path:</c> line per connection (and at each change), and with a
/// stats interval a <c>stats: vpn ...</c> line.
/// </summary>
internal sealed class VpnSession(VpnArguments arguments, TimeSpan statsInterval, bool noCircuit)
{
    private readonly ConcurrentDictionary<QuicConnection, Task> _reporters = new();

    // Ends the path reports: the VPN stops. Not the run's token, which exists only once the peer has started.
    private readonly CancellationTokenSource _stopping = new();
    private ILoggerFactory? _loggers;
    private VpnRouter? _router;
    private VpnMetrics? _metrics;

    // Set once the peer has started (its mesh node exists from then on): dials before that go through the relays only.
    private volatile PeerServer? _server;

    /// <summary>Only the listed peers may dial us.</summary>
    public void Configure(PeerEndpointOptions options)
    {
        foreach (var peer in arguments.Vpn.Peers)
        {
            options.AllowedDialers.Add(peer.NodeId);
        }

        // A direct path inside the VPN's own address space would run through the VPN itself.
        foreach (var network in arguments.VpnNetworks)
        {
            options.ExcludedPathNetworks.Add(network);
        }

        _loggers = options.LoggerFactory;
    }

    public void ComposeListeners(QuicPipeServerBuilder builder, PeerEndpoint peer)
    {
        _router = new VpnRouter(peer, arguments.Vpn, (node, cancellationToken) => DialAsync(peer, node, cancellationToken), _loggers);
        _metrics = new VpnMetrics(_router);

        // From the start: a peer may dial us before RunAsync begins, and its connection needs its path lines too. A
        // circuit's path line is out already (PeerReach), and a circuit does not move.
        _router.PeerConnected += (_, e) =>
        {
            if (_server is not { } server || !PeerReach.IsCircuit(server, e.Connection))
            {
                _reporters[e.Connection] = ReportAsync(peer, e.Connection, _stopping.Token);
            }
        };
        builder.ListenTun(arguments.Device, tun => tun.UseVpn(_router));
    }

    public void ComposeConnections(IMultiplexedConnectionBuilder connections) =>
        connections.Run(context => _router!.OnConnectedAsync(context));

    public async Task RunAsync(PeerServer server, CancellationToken interrupted)
    {
        var router = _router!;
        _server = server;
        using var stop = interrupted.Register(_stopping.Cancel);
        var circuits = server.Mesh is { } mesh ? ServeCircuitsAsync(mesh, router, _stopping.Token) : Task.CompletedTask;
        try
        {
            var device = arguments.Device;
            await Console.Error.WriteLineAsync($"vpn up: {device.Name} {string.Join(' ', device.Addresses)}, {arguments.Vpn.Peers.Count} peers").ConfigureAwait(false);

            // After a restart the peers' connections to our old process are dead: a fresh dial replaces them now.
            router.AnnounceToPeers();
            if (statsInterval > TimeSpan.Zero)
            {
                using var timer = new PeriodicTimer(statsInterval);
                while (await timer.WaitForNextTickAsync(interrupted).ConfigureAwait(false))
                {
                    await Console.Error.WriteLineAsync(StatsLine(router)).ConfigureAwait(false);
                }
            }

            await Task.Delay(Timeout.Infinite, interrupted).ConfigureAwait(false);
        }
        finally
        {
            await _stopping.CancelAsync().ConfigureAwait(false);

            // The router's disposal closes the circuits' connections: their handlers end only then.
            await router.DisposeAsync().ConfigureAwait(false);
            await circuits.ConfigureAwait(false);
            _metrics?.Dispose();
            await Task.WhenAll(_reporters.Values).ConfigureAwait(false);
        }
    }

    /// <summary>Through the relays; when none knows the peer, through a circuit (unless --no-circuit), once the mesh runs.</summary>
    private Task<QuicConnection> DialAsync(PeerEndpoint endpoint, NodeId peer, CancellationToken cancellationToken) =>
        _server is { } server ? PeerReach.DialAsync(server, peer, noCircuit, cancellationToken) : endpoint.DialAsync(peer, cancellationToken);

    /// <summary>
    /// Each circuit that ends here goes to the router, as a relayed connection does: the mesh let in only the origins
    /// the endpoint lets dial (the VPN's peers, PeerServer), and the router closes any connection not from a peer.
    /// </summary>
    private async Task ServeCircuitsAsync(MeshNode mesh, VpnRouter router, CancellationToken stopping)
    {
        var served = new List<Task>();
        try
        {
            while (true)
            {
                var circuit = await mesh.AcceptAsync(stopping).ConfigureAwait(false);
                await PeerReach.ReportAsync(circuit).ConfigureAwait(false);
                served.RemoveAll(t => t.IsCompleted);
                served.Add(ServeCircuitAsync(router, circuit.Connection));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // The VPN stops (or the mesh with it): the router's disposal closes the circuits' connections.
        }

        await Task.WhenAll(served).ConfigureAwait(false);
    }

    private static async Task ServeCircuitAsync(VpnRouter router, QuicConnection connection)
    {
        try
        {
            await using var context = connection.AsMultiplexedConnectionContext();
            await router.OnConnectedAsync(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException or OperationCanceledException)
        {
            // The circuit ended; the router logs why a peer's connection ended.
        }
    }

    private static string StatsLine(VpnRouter router)
    {
        var c = router.Counters;
        return $"stats: vpn peers {router.ConnectedPeers} sent {c.Sent} pkts {c.SentBytes} B received {c.Received} pkts {c.ReceivedBytes} B "
            + $"drops not_ip {c.NotIpPackets} no_route {c.NoRoutePackets} too_big {c.TooBigPackets} spoofed {c.SpoofedPackets} "
            + $"bad_datagram {c.BadDatagramPackets} pending {c.PendingDroppedPackets} send {c.SendDroppedPackets} tun_write {c.TunWriteFailures}"
            + (router.Tun is { Offload: true } tun ? $" offload super_read {tun.SuperPacketsRead} super_written {tun.SuperPacketsWritten}" : " offload off");
    }

    /// <summary>The connection's <c>path:</c> lines until it ends or the VPN stops.</summary>
    private async Task ReportAsync(PeerEndpoint endpoint, QuicConnection connection, CancellationToken interrupted)
    {
        try
        {
            await using var reporter = await PathReporter.StartAsync(endpoint.GetPath(connection), statsInterval).ConfigureAwait(false);
            await connection.Closed.WaitAsync(interrupted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QuicConnectionException or OperationCanceledException or ArgumentException or ObjectDisposedException)
        {
            // Ended, or the VPN is stopping; the router logs why a connection ended.
        }
        finally
        {
            _reporters.TryRemove(connection, out _);
        }
    }
}
