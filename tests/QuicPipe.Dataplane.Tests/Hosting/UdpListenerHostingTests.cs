using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>
/// The server owns a UDP listener's transport: it binds the sockets, runs each received batch through the stages
/// composed on the listener, transmits what they forwarded, and builds each loop's stages only after the services
/// that live on the sockets have started.
/// </summary>
public sealed class UdpListenerHostingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Each_batch_runs_the_stages_in_the_order_added_and_what_they_forward_leaves_from_the_listener()
    {
        var order = new ConcurrentQueue<string>();
        var builder = Builder();
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.Use(next => batch =>
            {
                order.Enqueue("count");
                next(batch);
            });
            udp.Use(next => batch =>
            {
                order.Enqueue("echo");
                for (var i = 0; i < batch.Count; i++)
                {
                    batch.Forward(i, batch.Sources[i]);
                }

                next(batch);
            });
        });
        await using var server = builder.Build();
        await server.StartAsync();
        var listener = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();
        Assert.NotEqual(0, listener.Port);

        using var client = Client();
        client.SendTo("hello"u8.ToArray(), listener);
        var buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        var length = client.ReceiveFrom(buffer, ref from);

        Assert.Equal("hello"u8.ToArray(), buffer[..length]);
        Assert.Equal(listener, from);
        Assert.Equal(["count", "echo"], order.Take(2));

        // The loop counts a batch's verdicts after sending it: the echo can arrive first.
        var counters = new DataplaneCounters();
        SpinWait.SpinUntil(
            () =>
            {
                counters = new DataplaneCounters();
                server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().CollectCounters(counters);
                return counters.Forwarded > 0;
            },
            TimeSpan.FromSeconds(5));
        Assert.Equal(1, counters.Forwarded);
    }

    [Fact]
    public async Task Stages_are_built_per_loop_after_the_services_started_and_know_their_address_and_loop()
    {
        var contexts = new ConcurrentBag<(int Address, int Port, int Loop)>();
        var builder = Builder();
        builder.ListenUdp([new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0)], udp =>
        {
            udp.Threads = 2;
            udp.AddService(context => new PublishingService(context));
            udp.Use((loop, next) =>
            {
                // The service published this at start: a stage built before it would not find it.
                _ = loop.Listener.Features.GetRequiredFeature<PublishingService.Marker>();
                contexts.Add((loop.AddressIndex, loop.LocalAddress.Port, loop.Loop));
                return next;
            });
        });
        await using var server = builder.Build();
        Assert.Empty(contexts);
        await server.StartAsync();

        var bound = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses;
        Assert.Equal(
            [(0, bound[0].Port, 0), (0, bound[0].Port, 1), (1, bound[1].Port, 0), (1, bound[1].Port, 1)],
            contexts.OrderBy(c => c.Address).ThenBy(c => c.Loop));
    }

    [Fact]
    public async Task A_stage_that_cannot_be_built_fails_Start_and_leaves_the_port_free()
    {
        int port;
        using (var probe = Client())
        {
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var builder = Builder();
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, port), udp => udp.Use((loop, _) => throw new InvalidOperationException($"{loop.Listener}: no endpoint")));
        await using var server = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Equal($"udp 127.0.0.1:{port}: no endpoint", error.Message);
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, port));
    }

    [Fact]
    public async Task Stop_then_dispose_closes_every_socket_of_the_listener()
    {
        int port;
        using (var probe = Client())
        {
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        for (var round = 0; round < 2; round++)
        {
            var builder = Builder();
            builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, port), udp =>
            {
                udp.Threads = 2;
                udp.UseQuicHeaderParsing();
            });
            var server = builder.Build();
            await server.StartAsync();
            await server.StopAsync();
            await server.DisposeAsync();

            // Without SO_REUSEPORT: this bind fails while any of the listener's sockets is still open.
            using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            again.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
    }

    private static QuicPipeServerBuilder Builder() =>
        QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

    private static Socket Client()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Timeout.TotalMilliseconds };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>Publishes a marker in the listener's features when it starts, as a QUIC endpoint publishes itself.</summary>
    private sealed class PublishingService(ListenerContext context) : IListenerService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            context.Features.Set(new Marker());
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public sealed class Marker;
    }
}
