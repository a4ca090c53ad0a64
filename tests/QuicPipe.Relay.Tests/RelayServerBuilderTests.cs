using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>The relay composed through the server builder, on loopback: it forwards, and leaves nothing bound behind.</summary>
public sealed class RelayServerBuilderTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly string _routesPath = Path.Combine(Path.GetTempPath(), $"quicpipe-builder-routes-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_routesPath);

    [Fact]
    public async Task A_relay_built_with_UseRelay_forwards_both_ways_between_two_UDP_sockets()
    {
        using var a = Bound(0);
        using var b = Bound(0);
        var toA = RelayForwardingStageTests.Cid(1);
        var toB = RelayForwardingStageTests.Cid(2);
        File.WriteAllText(_routesPath, $"{toA} {a.LocalEndPoint}\n{toB} {b.LocalEndPoint}\n");

        var builder = BuiltRelay.Builder();
        var relay = new RelayRouter(new RelayOptions { RoutesFile = _routesPath });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.UseRelay(relay);
        });
        await using var server = builder.Build();
        await server.StartAsync();
        Assert.Same(relay, server.Listeners[0].Features.GetRequiredFeature<RelayRouter>());
        var relayEndPoint = relay.LocalAddresses[0].ToEndPoint();

        var fromA = RelayForwardingStageTests.ShortPacket(toB, 60);
        a.SendTo(fromA, relayEndPoint);
        var (atB, fromRelay) = Receive(b);
        Assert.Equal(fromA, atB);
        Assert.Equal(relayEndPoint, fromRelay);

        var fromB = RelayForwardingStageTests.ShortPacket(toA, 80);
        b.SendTo(fromB, relayEndPoint);
        var (atA, fromRelayAgain) = Receive(a);
        Assert.Equal(fromB, atA);
        Assert.Equal(relayEndPoint, fromRelayAgain);

        // The loop counts a batch once the kernel took it, which may be just after the receiver read it.
        Assert.True(SpinWait.SpinUntil(() => relay.Snapshot().Packets.Forwarded == 2, Timeout), $"forwarded {relay.Snapshot().Packets.Forwarded}");
    }

    [Fact]
    public async Task Stop_and_dispose_release_the_port_for_the_next_relay()
    {
        var port = FreeUdpPort();
        for (var round = 0; round < 2; round++)
        {
            var builder = BuiltRelay.Builder();
            builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, port), udp =>
            {
                udp.Threads = 2;
                udp.UseRelay(new RelayRouter(new RelayOptions()));
            });
            var server = builder.Build();
            await server.StartAsync();
            Assert.Equal(port, server.Listeners[0].Features.GetRequiredFeature<RelayRouter>().LocalAddresses[0].Port);
            await server.StopAsync();
            await server.DisposeAsync();

            // Without SO_REUSEPORT: this bind fails while any of the relay's sockets is still open.
            using var again = Bound(port);
        }
    }

    [Fact]
    public async Task An_offload_that_cannot_start_fails_Start_and_takes_the_relay_down_with_it()
    {
        var port = FreeUdpPort();
        var builder = BuiltRelay.Builder();
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, port), udp => udp.UseRelay(new RelayRouter(new RelayOptions())).UseXdpOffload("qpnosuch0"));
        await using var server = builder.Build();

        // As root: no such interface; otherwise: needs root. Either way the operator's message, from the offload.
        var error = await Assert.ThrowsAsync<XdpOffloadException>(() => server.StartAsync());
        Assert.StartsWith("--xdp qpnosuch0: ", error.Message, StringComparison.Ordinal);

        // The relay had bound the port before the offload failed: it was stopped and disposed, so the port is free.
        using var again = Bound(port);
        Assert.Empty(server.Listeners[0].Features.GetRequiredFeature<RelayRouter>().LocalAddresses);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
    }

    [Fact]
    public void UseXdpOffload_without_a_relay_before_it_fails_Build()
    {
        var builder = BuiltRelay.Builder();
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UseXdpOffload("eth0"));
        var error = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Contains("UseRelay before it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_the_relay_refuses_fail_where_it_is_made_and_a_relay_serves_one_listener()
    {
        Assert.Contains("CID length", Assert.Throws<ArgumentException>(() => new RelayRouter(new RelayOptions { CidLength = 0 })).Message, StringComparison.Ordinal);
        var options = new RelayServerOptions();
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 4433)));
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 4433)));
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() => new RelayServer(options)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_relay_on_two_listeners_is_refused_at_start_and_nothing_stays_bound()
    {
        var port = FreeUdpPort();
        var relay = new RelayRouter(new RelayOptions());
        var builder = BuiltRelay.Builder();
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UseRelay(relay));
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, port), udp => udp.UseRelay(relay));
        await using var server = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Contains("already serves a listener", error.Message, StringComparison.Ordinal);
        using var again = Bound(port);
    }

    private static Socket Bound(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Timeout.TotalMilliseconds };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private static int FreeUdpPort()
    {
        using var probe = Bound(0);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static (byte[] Data, IPEndPoint From) Receive(Socket socket)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        var n = socket.ReceiveFrom(buffer, ref from);
        return (buffer[..n], (IPEndPoint)from);
    }
}
