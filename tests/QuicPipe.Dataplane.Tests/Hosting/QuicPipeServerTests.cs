using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>The server builder's lifecycle: order of start and stop, and what a failure leaves behind (nothing).</summary>
public sealed class QuicPipeServerTests
{
    private readonly List<string> _log = [];

    [Fact]
    public async Task Services_start_in_the_order_added_and_stop_and_dispose_in_reverse()
    {
        var builder = Builder();
        builder.ListenUdp(Loopback(0), udp => udp.AddService(c => Handler("relay", c)).AddService(c => Handler("offload", c)));
        builder.ListenTcp(Loopback(0), tcp => tcp.AddService(c => Handler("proxy", c)));
        var server = builder.Build();
        Assert.Empty(_log);

        await server.StartAsync();
        await server.StopAsync();
        await server.StopAsync();
        await server.DisposeAsync();

        Assert.Equal(
            ["start relay", "start offload", "start proxy", "stop proxy", "stop offload", "stop relay", "dispose proxy", "dispose offload", "dispose relay"],
            _log);
    }

    [Fact]
    public async Task A_service_that_throws_at_start_fails_Start_with_its_error_and_leaves_nothing_bound()
    {
        var udpPort = FreePort(SocketType.Dgram, ProtocolType.Udp);
        var tcpPort = FreePort(SocketType.Stream, ProtocolType.Tcp);
        var builder = Builder();
        builder.ListenUdp(Loopback(udpPort), udp => udp.AddService(c => Handler("relay", c)));
        builder.ListenTcp(Loopback(tcpPort), tcp => tcp.AddService(c => Handler("proxy", c, failStart: true)));
        await using var server = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Equal("proxy refuses to start", error.Message);
        Assert.Equal(["start relay", "start proxy", "stop relay", "dispose proxy", "dispose relay"], _log);

        // Both ports free again: the server closed the UDP sockets it had bound, and the TCP service released its own.
        using (Bind(udpPort, SocketType.Dgram, ProtocolType.Udp))
        using (Bind(tcpPort, SocketType.Stream, ProtocolType.Tcp))
        {
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
    }

    [Fact]
    public async Task Stop_then_dispose_leaves_the_port_free_to_bind_again()
    {
        var port = FreePort(SocketType.Stream, ProtocolType.Tcp);
        for (var round = 0; round < 2; round++)
        {
            var builder = Builder();
            builder.ListenTcp(port, tcp => tcp.AddService(c => Handler("proxy", c)));
            var server = builder.Build();
            await server.StartAsync();
            Assert.Equal(IPAddress.Loopback, server.Listeners[0].Endpoints[0].Address);
            await server.StopAsync();
            await server.DisposeAsync();
            using var again = Bind(port, SocketType.Stream, ProtocolType.Tcp);
        }
    }

    [Fact]
    public void A_service_factory_that_throws_fails_Build_and_the_services_made_before_it_are_disposed()
    {
        var builder = Builder();
        builder.ListenUdp(Loopback(0), udp => udp
            .AddService(c => Handler("relay", c))
            .AddService(_ => throw new ArgumentException("bad offload options")));
        var error = Assert.Throws<ArgumentException>(builder.Build);
        Assert.Equal("bad offload options", error.Message);
        Assert.Equal(["dispose relay"], _log);
    }

    [Fact]
    public async Task A_listener_with_nothing_to_do_is_refused_and_Build_runs_once()
    {
        var builder = Builder();
        Assert.Throws<ArgumentException>(() => builder.ListenTcp(0, _ => { }));
        builder.ListenUdp(Loopback(0), udp => udp.AddService(c => Handler("relay", c)));
        await using var server = builder.Build();
        Assert.Throws<InvalidOperationException>(builder.Build);
    }

    [Fact]
    public async Task RunAsync_serves_until_cancelled_then_stops_and_the_server_is_in_its_own_services()
    {
        var builder = Builder();
        builder.ListenUdp(Loopback(0), udp => udp.AddService(c => Handler("relay", c)));
        await using var server = builder.Build();
        Assert.Same(server, server.Services.GetRequiredService<QuicPipeServer>());

        using var stop = new CancellationTokenSource();
        var running = server.RunAsync(stop.Token);
        while (!_log.Contains("start relay"))
        {
            await Task.Delay(10);
        }

        Assert.False(running.IsCompleted);
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["start relay", "stop relay"], _log);
    }

    private static QuicPipeServerBuilder Builder() =>
        QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

    private static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);

    private static Socket Bind(int port, SocketType type, ProtocolType protocol)
    {
        var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        socket.Bind(Loopback(port));
        return socket;
    }

    private static int FreePort(SocketType type, ProtocolType protocol)
    {
        using var probe = Bind(0, type, protocol);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private RecordingService Handler(string name, ListenerContext context, bool failStart = false) => new(name, context, _log, failStart);
}
