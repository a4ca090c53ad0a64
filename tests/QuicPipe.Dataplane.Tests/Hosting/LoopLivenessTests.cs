using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane.Hosting;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Hosting;

/// <summary>What a liveness check reads of a UDP listener's receive loops.</summary>
public sealed class LoopLivenessTests
{
    [Fact]
    public async Task A_loop_that_runs_or_was_stopped_is_alive_and_one_ended_by_out_of_memory_is_dead_with_its_reason()
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;

            // A failure the loop must not swallow: it cannot trust itself to go on.
            udp.Use(next => batch => throw new OutOfMemoryException("simulated"));
        });
        await using var server = builder.Build();
        await server.StartAsync();
        var transport = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>();
        var loop = Assert.Single(transport.Liveness);
        Assert.False(loop.IsDead);
        Assert.StartsWith("udp-rx 127.0.0.1:", loop.Name, StringComparison.Ordinal);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.SendTo("x"u8.ToArray(), transport.LocalAddresses[0].ToEndPoint());

        Assert.True(SpinWait.SpinUntil(() => loop.IsDead, TimeSpan.FromSeconds(5)), "the loop did not record its death");
        Assert.IsType<OutOfMemoryException>(loop.Failure);
        Assert.Contains("died: OutOfMemoryException: simulated", loop.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stage_that_throws_anything_else_costs_its_batch_and_the_loop_stays_alive()
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ListenUdp(new IPEndPoint(IPAddress.Loopback, 0), udp =>
        {
            udp.Threads = 1;
            udp.Use(next => batch => throw new InvalidOperationException("a bug in a stage"));
        });
        await using var server = builder.Build();
        await server.StartAsync();
        var transport = server.Listeners[0].Features.GetRequiredFeature<UdpTransport>();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.SendTo("x"u8.ToArray(), transport.LocalAddresses[0].ToEndPoint());
        var counters = new DataplaneCounters();
        Assert.True(SpinWait.SpinUntil(() =>
        {
            counters.Reset();
            transport.CollectCounters(counters);
            return counters.DroppedTotal > 0;
        }, TimeSpan.FromSeconds(5)));

        await server.StopAsync();
        Assert.False(Assert.Single(transport.Liveness).IsDead);
    }
}
