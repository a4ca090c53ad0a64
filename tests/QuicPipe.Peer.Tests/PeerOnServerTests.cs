using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// A peer composed by the application on its own server (<see cref="PeerListenerBuilderExtensions.UsePeer"/>): the
/// server binds the peer's socket, the peer's QUIC endpoint runs that listener's loop, and stopping the server
/// stops the peer.
/// </summary>
public sealed class PeerOnServerTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task A_peer_on_an_application_server_accepts_through_the_relay_on_the_servers_socket_and_stops_with_it()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var dialerIdentity = NodeIdentity.Generate();
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = _relay.Address, RelayId = _relay.Server.NodeId, DirectPaths = false };
        options.AllowedDialers.Add(dialerIdentity.NodeId);
        var peer = new PeerEndpoint(options);
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UsePeer(peer));
        await using var server = builder.Build();
        await server.StartAsync(timeout.Token);
        await peer.StartAsync(timeout.Token);

        var socket = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();
        Assert.Equal(socket, peer.LocalEndPoint);
        Assert.Equal(1, peer.Registrations);

        await using var dialer = await _relay.StartPeerAsync(dialerIdentity, directPaths: false, timeout.Token);
        var connection = await dialer.DialAsync(peer.NodeId, timeout.Token);
        var accepted = await peer.AcceptAsync(timeout.Token);
        Assert.Equal(dialerIdentity.NodeId, accepted.RemoteNodeId);
        await Echo.AssertAsync(connection, accepted, 64 * 1024, timeout.Token);

        await server.StopAsync(timeout.Token);
        await peer.Completion.WaitAsync(timeout.Token);
        // The accepted connection's handler was asked to finish, and the connection ended with it.
        await connection.Closed.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(timeout.Token);
        await server.DisposeAsync();

        // The server closed the peer's socket: its port is free again.
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        again.Bind(socket);
    }

    [Fact]
    public void A_peer_has_one_socket_and_one_listener()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = _relay.Address };
        var peer = new PeerEndpoint(options);
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var two = new[] { new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0) };
        Assert.Contains("one socket", Assert.Throws<ArgumentException>(() => builder.ListenUdp(two, udp => udp.UsePeer(peer))).Message, StringComparison.Ordinal);

        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UsePeer(peer));
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UsePeer(peer));
        Assert.Contains("already composed", Assert.Throws<InvalidOperationException>(builder.Build).Message, StringComparison.Ordinal);
    }
}
