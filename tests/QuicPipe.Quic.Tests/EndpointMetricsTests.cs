using System.Net;
using System.Net.Sockets;
using QuicPipe.Lab;
using QuicPipe.Quic.Internal;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>The QUIC endpoint's meter (QuicPipe.Quic.Endpoint) reports its counters, and its loop's liveness is readable.</summary>
public sealed class EndpointMetricsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_meter_reports_connections_datagrams_and_unroutable_ones()
    {
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        Assert.Equal(QuicEndpointMetrics.MeterName, pair.Server.Metrics.Meter.Name);
        using var server = new MeterReader(pair.Server.Metrics.Meter);
        using var client = new MeterReader(pair.Client.Metrics.Meter);
        using var cts = new CancellationTokenSource(Timeout);

        var (c, s) = await pair.ConnectPairAsync(cts.Token);
        var stream = await c.OpenBidirectionalStreamAsync(cts.Token);
        await stream.WriteAsync("ping"u8.ToArray(), endStream: true, cts.Token);

        Assert.True(SpinWait.SpinUntil(() => server.Read("quicpipe.quic.connections") == 1, Timeout));
        Assert.Equal(1, client.Read("quicpipe.quic.connections"));
        Assert.Equal(1, server.Read("quicpipe.quic.connections.admitted"));
        Assert.Equal(pair.Server.ReadPacketCounters().Received, server.Read("quicpipe.quic.received"));
        Assert.True(server.Read("quicpipe.quic.received") > 0);
        Assert.True(client.Read("quicpipe.quic.sent") > 0);
        Assert.True(client.Read("quicpipe.quic.sent.bytes") >= client.Read("quicpipe.quic.sent"));

        // A short-header datagram with a CID nobody knows: unroutable, counted.
        using (var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            stranger.SendTo(Convert.FromHexString("41" + new string('7', 40) + "00112233"), pair.Server.LocalEndPoint);
        }

        Assert.True(SpinWait.SpinUntil(() => server.Read("quicpipe.quic.unroutable") == pair.Server.UnroutableDatagrams && pair.Server.UnroutableDatagrams > 0, Timeout));
        Assert.Equal(0, server.Read("quicpipe.quic.connections.refused"));
        Assert.Equal(0, server.Read("quicpipe.quic.dropped", "reason=oversize"));

        await c.CloseAsync(0, "done", cts.Token);
        Assert.True(SpinWait.SpinUntil(() => client.Read("quicpipe.quic.connections") == 0, Timeout));
        GC.KeepAlive(s);
    }

    [Fact]
    public async Task Disposing_the_endpoint_ends_its_meter()
    {
        var pair = new LoopbackPair(IPAddress.Loopback);
        using var reader = new MeterReader(pair.Server.Metrics.Meter);
        Assert.Contains("quicpipe.quic.connections", reader.Instruments);

        await pair.DisposeAsync();

        Assert.Throws<KeyNotFoundException>(() => reader.Read("quicpipe.quic.connections"));
    }

    [Fact]
    public async Task The_engine_loop_records_its_death_by_out_of_memory_and_runs_until_then()
    {
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        Assert.False(pair.Server.Liveness.IsDead);

        pair.Server.Post(() => throw new OutOfMemoryException("simulated"));

        Assert.True(SpinWait.SpinUntil(() => pair.Server.Liveness.IsDead, Timeout), "the loop did not record its death");
        Assert.IsType<OutOfMemoryException>(pair.Server.Liveness.Failure);
        Assert.False(pair.Client.Liveness.IsDead);
    }
}
