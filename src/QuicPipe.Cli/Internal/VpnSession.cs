using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Vpn;
using QuicPipe.Vpn.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe vpn</c>: one server with the TUN device (<c>ListenTun(...).UseVpn(router)</c>) and
/// the peer's UDP listener, whose incoming connections go to the router; both halves share one
/// <see cref="VpnRouter"/>. Prints <c>vpn up: ...</c> once the device exists and the relay has us, a <c>path:</c> line
/// per connection (and at each change), and with a stats interval a <c>stats: vpn ...</c> line.
/// </summary>
internal sealed class VpnSession(VpnArguments arguments, TimeSpan statsInterval)
{
    private readonly ConcurrentDictionary<QuicConnection, Task> _reporters = new();

    // Ends the path reports: the VPN stops. Not the run's token, which exists only once the peer has started.
    private readonly CancellationTokenSource _stopping = new();
    private ILoggerFactory? _loggers;
    private VpnRouter? _router;
    private VpnMetrics? _metrics;

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
        _router = new VpnRouter(peer, arguments.Vpn, _loggers);
        _metrics = new VpnMetrics(_router);

        // From the start: a peer may dial us before RunAsync begins, and its connection needs its path lines too.
        _router.PeerConnected += (_, e) => _reporters[e.Connection] = ReportAsync(peer, e.Connection, _stopping.Token);
        builder.ListenTun(arguments.Device, tun => tun.UseVpn(_router));
    }

    public void ComposeConnections(IMultiplexedConnectionBuilder connections) =>
        connections.Run(context => _router!.OnConnectedAsync(context));

    public async Task RunAsync(PeerEndpoint endpoint, CancellationToken interrupted)
    {
        var router = _router!;
        using var stop = interrupted.Register(_stopping.Cancel);
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
            await router.DisposeAsync().ConfigureAwait(false);
            _metrics?.Dispose();
            await Task.WhenAll(_reporters.Values).ConfigureAwait(false);
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
