using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// A QUIC endpoint as a transport of the server builder: on a UDP listener's own sockets, fed by the listener's
/// stages, its connections served by connection middleware and a handler as Kestrel's are.
/// </summary>
public sealed class QuicListenerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Connections_reach_the_middleware_and_the_handler_as_contexts_with_the_QUIC_connection_behind_them()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var serverIdentity = NodeIdentity.Generate();
        var clientIdentity = NodeIdentity.Generate();
        var seen = new TaskCompletionSource<NodeId?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var order = new List<string>();
        await using var server = Build(serverIdentity, connections => connections
            .Use(next => context =>
            {
                lock (order)
                {
                    order.Add("middleware");
                }

                return next(context);
            })
            .Run(async context =>
            {
                lock (order)
                {
                    order.Add("handler");
                }

                seen.TrySetResult(context.Features.Get<IQuicConnectionFeature>()?.Connection.RemoteNodeId);
                await using var stream = await context.AcceptAsync(timeout.Token) ?? throw new InvalidOperationException("no stream");
                var result = await stream.Transport.Input.ReadAsync(timeout.Token);
                var upper = Encoding.ASCII.GetString(result.Buffer).ToUpperInvariant();
                stream.Transport.Input.AdvanceTo(result.Buffer.End);
                await stream.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(upper), timeout.Token);
                await stream.Transport.Output.CompleteAsync();
                await Task.Delay(Timeout.Infinite, context.ConnectionClosed).ContinueWith(_ => { }, TaskScheduler.Default);
            }));
        await server.StartAsync(timeout.Token);
        var listenerAddress = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();

        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = clientIdentity });
        var connection = await client.ConnectAsync(listenerAddress, new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, timeout.Token);
        var stream = await connection.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("ping"), endStream: true, timeout.Token);
        var answer = await StreamTransfer.ReadToEndAsync(stream.Input, timeout.Token);

        Assert.Equal("PING", Encoding.ASCII.GetString(answer));
        Assert.Equal(clientIdentity.NodeId, await seen.Task.WaitAsync(timeout.Token));
        Assert.Equal(["middleware", "handler"], order);

        // The connection came in through the listener's own socket: the endpoint has no other.
        Assert.Equal(listenerAddress, connection.RemoteEndPoint);
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Stopping_the_server_asks_each_handler_to_finish_and_the_handler_closes_its_own_way()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var serverIdentity = NodeIdentity.Generate();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = Build(serverIdentity, connections => connections.Run(async context =>
        {
            running.TrySetResult();
            var requested = context.Features.GetRequiredFeature<IConnectionLifetimeNotificationFeature>().ConnectionClosedRequested;
            await Task.Delay(Timeout.Infinite, requested).ContinueWith(_ => { }, TaskScheduler.Default);
            await context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection.CloseAsync(42, "server stopping");
        }));
        await server.StartAsync(timeout.Token);
        var listenerAddress = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();
        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        var connection = await client.ConnectAsync(listenerAddress, new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, timeout.Token);
        await running.Task.WaitAsync(timeout.Token);

        await server.StopAsync(timeout.Token);

        var closed = await Assert.ThrowsAsync<QuicConnectionException>(() => connection.Closed.WaitAsync(timeout.Token));
        Assert.Equal(42, closed.PeerApplicationErrorCode);
        Assert.Equal("server stopping", closed.PeerReasonPhrase);
    }

    [Fact]
    public void Delivering_to_a_QUIC_endpoint_without_one_on_the_listener_fails_with_the_fix()
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp => udp.UseQuicHeaderParsing().UseQuicEndpointDelivery());
        using var server = new AsyncDisposer(builder.Build());
        var error = Assert.Throws<InvalidOperationException>(() => server.Server.StartAsync().GetAwaiter().GetResult());
        Assert.Contains("UseQuicEndpointDelivery needs UseQuicEndpoint or RunQuicEndpoint on the same listener", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_endpoint_that_runs_the_listener_loop_serves_connections_and_answers_path_probes_through_the_listener_stages()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var serverIdentity = NodeIdentity.Generate();
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var options = new QuicEndpointOptions { Identity = serverIdentity, AcceptIncoming = true, AllowAnyClient = true };
        var accepted = new TaskCompletionSource<QuicConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.RunQuicEndpoint(options, connections => connections.Run(async context =>
                {
                    var connection = context.Features.GetRequiredFeature<IQuicConnectionFeature>().Connection;
                    accepted.TrySetResult(connection);
                    await Task.Delay(Timeout.Infinite, context.ConnectionClosed).ContinueWith(_ => { }, TaskScheduler.Default);
                }))
                .UseQuicHeaderParsing(options.ConnectionIdLength)
                .UseQuicConnectionLookup()
                .UsePathProbes();
        });
        await using var server = builder.Build();
        await server.StartAsync(timeout.Token);
        var listener = server.Listeners[0];
        var listenerAddress = listener.Features.GetRequiredFeature<UdpTransport>().LocalAddresses[0].ToEndPoint();
        var endpoint = listener.Features.GetRequiredFeature<QuicListenerEndpoints>()[0];
        Assert.Equal(listenerAddress, endpoint.LocalEndPoint);

        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        var connection = await client.ConnectAsync(listenerAddress, new QuicClientConnectionOptions { ExpectedPeer = serverIdentity.NodeId }, timeout.Token);
        var serverSide = await accepted.Task.WaitAsync(timeout.Token);

        // Streams flow both ways through the listener's socket.
        var stream = await connection.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("hello"), endStream: true, timeout.Token);
        var incoming = await serverSide.AcceptStreamAsync(timeout.Token);
        Assert.Equal("hello", Encoding.ASCII.GetString(await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token)));

        // The client's probe is answered by the listener's UsePathProbes stage; without it the probe would time out.
        await connection.ProbePathAsync(listenerAddress, timeout.Token);
        Assert.Equal(1, endpoint.PathProbesAnswered);
        await connection.CloseAsync();
    }

    [Fact]
    public async Task An_endpoint_runs_one_loop_per_address_and_says_so_when_given_more()
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var options = new QuicEndpointOptions { Identity = NodeIdentity.Generate(), AcceptIncoming = true, AllowAnyClient = true };
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 2;
            udp.RunQuicEndpoint(options, connections => { }).UseQuicHeaderParsing();
        });
        await using var server = builder.Build();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync());
        Assert.Contains("set the listener's Threads to 1", error.Message, StringComparison.Ordinal);
    }

    private static QuicPipeServer Build(NodeIdentity identity, Action<IMultiplexedConnectionBuilder> connections)
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var options = new QuicEndpointOptions { Identity = identity, AcceptIncoming = true, AllowAnyClient = true };
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.UseQuicEndpoint(options, connections)
                .UseQuicHeaderParsing(options.ConnectionIdLength)
                .UseQuicEndpointDelivery();
        });
        return builder.Build();
    }

    private sealed class AsyncDisposer(QuicPipeServer server) : IDisposable
    {
        public QuicPipeServer Server => server;

        public void Dispose() => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
