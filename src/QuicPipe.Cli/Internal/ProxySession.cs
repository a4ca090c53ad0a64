using System.Net;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Tunnels;
using QuicPipe.Tunnels.Diagnostics;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The running part of <c>quicpipe proxy</c>: an HTTP (CONNECT and plain requests) and/or SOCKS5 proxy, each a handler on a TCP listener of
/// one server, sharing one <see cref="PeerTunnelConnector"/>, which dials each peer named in a request on first use:
/// through the relays, or through a circuit of neighbours when no relay knows it (<see cref="PeerReach"/>).
/// </summary>
internal sealed class ProxySession(PeerServer server, IPEndPoint? http, IPEndPoint? socks5, ProxyOptions options, TimeSpan dialTimeout, bool noCircuit)
{
    public async Task RunAsync(CancellationToken interrupted)
    {
        // A relayed dial is the signal round trip and then the handshake, each bounded by the endpoint's dial timeout;
        // a circuit's is the probe (its own timeout) and the end-to-end handshake.
        await using var connector = new PeerTunnelConnector(DialAsync, new PeerTunnelConnectorOptions { ConnectTimeout = dialTimeout * 2 });

        // No defaults: the proxy logs nothing but its own lines, and reads no configuration files.
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (http is not null)
        {
            builder.ListenTcp(http, tcp => tcp.UseHttpProxy(connector, options));
        }

        if (socks5 is not null)
        {
            builder.ListenTcp(socks5, tcp => tcp.UseSocks5Proxy(connector, options));
        }

        // Disposed before the connector (declared after it): the proxies stop using it first.
        await using var proxies = builder.Build();
        await proxies.StartAsync(interrupted).ConfigureAwait(false);
        using var metrics = new TunnelMetrics();
        foreach (var listener in proxies.Listeners)
        {
            if (listener.Features.Get<HttpProxy>() is { } httpProxy)
            {
                metrics.Add(httpProxy);
                httpProxy.RequestFailed += Log;
                await Console.Error.WriteLineAsync($"HTTP proxy on {httpProxy.LocalEndPoint} as {server.Peer.NodeId} (auto-config: http://{httpProxy.LocalEndPoint}/proxy.pac)").ConfigureAwait(false);
            }

            if (listener.Features.Get<Socks5Proxy>() is { } socksProxy)
            {
                metrics.Add(socksProxy);
                socksProxy.RequestFailed += Log;
                await Console.Error.WriteLineAsync($"SOCKS5 proxy on {socksProxy.LocalEndPoint} as {server.Peer.NodeId}").ConfigureAwait(false);
            }
        }

        await proxies.RunAsync(interrupted).ConfigureAwait(false);
    }

    private static void Log(object? sender, ProxyRequestEventArgs e) =>
        Console.Error.WriteLine($"proxy: {e.Client?.ToString() ?? "?"} {e.Target ?? "-"}: {e.Answer}");

    /// <summary>Dials through the relays or a circuit, and says why a dial failed, in the proxies' terms.</summary>
    private async Task<QuicConnection> DialAsync(NodeId peer, CancellationToken cancellationToken)
    {
        try
        {
            return await PeerReach.DialAsync(server, peer, noCircuit, cancellationToken).ConfigureAwait(false);
        }
        catch (PeerException e)
        {
            var outcome = e.Failure switch
            {
                PeerFailure.PeerRefused => PeerTunnelOutcome.PeerRefused,
                PeerFailure.TimedOut => PeerTunnelOutcome.TimedOut,
                _ => PeerTunnelOutcome.PeerUnreachable,
            };
            await Console.Error.WriteLineAsync($"proxy: dial {peer} failed: {e.Message}").ConfigureAwait(false);
            throw new PeerDialException(outcome, e.Message, e);
        }
    }
}
