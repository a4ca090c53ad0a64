using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// The tunnels as handlers of a server builder's TCP listeners: each tunnels to the peer of a
/// <see cref="TunnelFixture"/> (whose exposer connects to an echo server), and stopping the server frees the port.
/// </summary>
public sealed class TunnelServerBuilderTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_HTTP_CONNECT_and_SOCKS5_handlers_tunnel_to_the_peer_and_free_their_ports_when_the_server_stops()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var connector = new PeerTunnelConnector((_, _) => Task.FromResult(tunnel.Client), new PeerTunnelConnectorOptions());
        var peerHost = PeerHostName.Format(tunnel.Client.RemoteNodeId!.Value);

        var builder = Builder();
        builder.ListenTcp(0, tcp => tcp.UseHttpProxy(connector));
        builder.ListenTcp(0, tcp => tcp.UseSocks5Proxy(connector));
        var server = builder.Build();
        await server.StartAsync(timeout.Token);
        var http = server.Listeners[0].Features.GetRequiredFeature<HttpProxy>();
        var socks = server.Listeners[1].Features.GetRequiredFeature<Socks5Proxy>();

        using (var client = await TunnelFixture.ConnectTcpAsync(http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {peerHost}:{echo.Port} HTTP/1.1\r\nHost: {peerHost}:{echo.Port}\r\n\r\n"), SocketFlags.None, timeout.Token);
            Assert.StartsWith("HTTP/1.1 200 ", await ProxyFixture.ReadHeadAsync(client, timeout.Token), StringComparison.Ordinal);
            await HttpProxyTests.AssertEchoesAsync(client, timeout.Token);
        }

        using (var client = await TunnelFixture.ConnectTcpAsync(socks.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None, timeout.Token);
            Assert.Equal(new byte[] { 5, 0 }, await ProxyFixture.ReadExactlyAsync(client, 2, timeout.Token));
            await client.SendAsync(ProxyFixture.SocksConnect(peerHost, echo.Port), SocketFlags.None, timeout.Token);
            Assert.Equal(0, (await ProxyFixture.ReadExactlyAsync(client, 10, timeout.Token))[1]);
            await HttpProxyTests.AssertEchoesAsync(client, timeout.Token);
        }

        Assert.Equal(1, http.TunnelledConnections);
        Assert.Equal(1, socks.TunnelledConnections);

        await server.StopAsync(timeout.Token);
        await server.DisposeAsync();
        using var httpAgain = Bind(http.LocalEndPoint);
        using var socksAgain = Bind(socks.LocalEndPoint);
    }

    [Fact]
    public async Task The_TCP_over_QUIC_handler_forwards_each_local_connection_to_the_peer_port()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);

        var builder = Builder();
        builder.ListenTcp(0, tcp => tcp.UseTcpOverQuic(tunnel.Client, echo.Port));
        await using var server = builder.Build();
        await server.StartAsync(timeout.Token);
        var forwarder = server.Listeners[0].Features.GetRequiredFeature<TcpForwarder>();
        Assert.Equal(IPAddress.Loopback, forwarder.LocalEndPoint.Address);

        for (var i = 0; i < 3; i++)
        {
            using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
            await HttpProxyTests.AssertEchoesAsync(client, timeout.Token);
        }

        Assert.Equal(3, forwarder.TunnelledConnections);
    }

    [Fact]
    public async Task A_port_already_taken_fails_Start_and_the_proxy_started_before_it_is_closed_again()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var connector = new PeerTunnelConnector((_, _) => throw new InvalidOperationException("no dial in this test"), new PeerTunnelConnectorOptions());
        using var taken = Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var free = FreePort();

        var builder = Builder();
        builder.ListenTcp(free, tcp => tcp.UseHttpProxy(connector));
        builder.ListenTcp((IPEndPoint)taken.LocalEndPoint!, tcp => tcp.UseSocks5Proxy(connector));
        await using var server = builder.Build();
        await Assert.ThrowsAsync<SocketException>(() => server.StartAsync(timeout.Token));

        using var again = Bind(new IPEndPoint(IPAddress.Loopback, free));
    }

    [Fact]
    public void Proxy_options_are_checked_when_the_handler_is_added()
    {
        var connector = new PeerTunnelConnector((_, _) => throw new InvalidOperationException(), new PeerTunnelConnectorOptions());
        Assert.Throws<ArgumentOutOfRangeException>(() => Builder().ListenTcp(0, tcp => tcp.UseSocks5Proxy(connector, new ProxyOptions { MaxConnections = 0 })));
    }

    private static QuicPipeServerBuilder Builder() =>
        QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

    private static Socket Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(endpoint);
        return socket;
    }

    private static int FreePort()
    {
        using var probe = Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
