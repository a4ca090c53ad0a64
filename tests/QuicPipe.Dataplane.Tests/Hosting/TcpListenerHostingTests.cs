using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>
/// The server owns a TCP listener's transport: it binds and accepts, and each connection reaches the listener's
/// middleware and handler as a ConnectionContext, within the listener's connection limit, until the server stops.
/// </summary>
public sealed class TcpListenerHostingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Connections_reach_the_middleware_then_the_handler_with_pipes_and_the_socket()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var order = new List<string>();
        var builder = Builder();
        builder.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), tcp => tcp
            .Use(next => connection =>
            {
                lock (order)
                {
                    order.Add("middleware");
                }

                return next(connection);
            })
            .Run(async connection =>
            {
                lock (order)
                {
                    order.Add($"handler {connection.Features.GetRequiredFeature<IConnectionSocketFeature>().Socket.RemoteEndPoint == connection.RemoteEndPoint}");
                }

                var read = await connection.Transport.Input.ReadAsync(timeout.Token);
                var upper = Encoding.ASCII.GetString(read.Buffer).ToUpperInvariant();
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
                await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(upper), timeout.Token);
                await connection.Transport.Output.CompleteAsync();
            }));
        await using var server = builder.Build();
        await server.StartAsync(timeout.Token);
        var transport = server.Listeners[0].Features.GetRequiredFeature<TcpTransport>();
        Assert.NotEqual(0, transport.LocalEndPoint.Port);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(transport.LocalEndPoint, timeout.Token);
        await client.SendAsync("hello"u8.ToArray(), SocketFlags.None, timeout.Token);
        var buffer = new byte[16];
        var received = 0;
        while (received < 5)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            received += n;
        }

        Assert.Equal("HELLO", Encoding.ASCII.GetString(buffer, 0, received));
        Assert.Equal(["middleware", "handler True"], order);
        Assert.Equal(1, transport.Accepted);
    }

    [Fact]
    public async Task At_its_connection_limit_the_listener_leaves_the_next_client_in_the_backlog_and_stopping_ends_every_handler()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var running = 0;
        var ended = 0;
        var builder = Builder();
        builder.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), tcp =>
        {
            tcp.MaxConnections = 1;
            tcp.Run(async connection =>
            {
                Interlocked.Increment(ref running);
                var stopping = connection.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
                await Task.Delay(Timeout.Infinite, stopping).ContinueWith(_ => { }, TaskScheduler.Default);
                Interlocked.Increment(ref ended);
            });
        });
        var server = builder.Build();
        await server.StartAsync(timeout.Token);
        var transport = server.Listeners[0].Features.GetRequiredFeature<TcpTransport>();
        var endpoint = transport.LocalEndPoint;

        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await first.ConnectAsync(endpoint, timeout.Token);
        while (Volatile.Read(ref running) == 0)
        {
            await Task.Delay(10, timeout.Token);
        }

        // The kernel completes the second handshake from the backlog, but the server does not take it.
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await second.ConnectAsync(endpoint, timeout.Token);
        await Task.Delay(200, timeout.Token);
        Assert.Equal(1, transport.Accepted);
        Assert.Equal(1, transport.Active);

        await server.StopAsync(timeout.Token);
        Assert.Equal(1, Volatile.Read(ref ended));
        await server.DisposeAsync();

        // Stopped: the port is free again.
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(endpoint);
    }

    private static QuicPipeServerBuilder Builder() =>
        QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
}
