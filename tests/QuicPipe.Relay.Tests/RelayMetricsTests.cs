using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Relay.Diagnostics;
using QuicPipe.Xdp;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>The relay's meters report what the relay counts: forwarding per loop, routes, and the XDP offload's counters.</summary>
public sealed class RelayMetricsTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly string _routesPath = Path.Combine(Path.GetTempPath(), $"quicpipe-metrics-routes-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_routesPath);

    [Fact]
    public void The_forwarding_meter_counts_what_the_loops_forwarded_and_dropped_by_reason()
    {
        using var sink = new UdpSink(IPAddress.Loopback);
        File.WriteAllLines(_routesPath, [$"{RelayForwardingStageTests.Cid(1)} {sink.EndPoint}"]);
        var options = new RelayServerOptions { RoutesFile = _routesPath, Threads = 2 };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)));
        using var relay = new RelayServer(options);
        relay.Start();
        var metrics = relay.Router.ForwardingMetrics;
        Assert.NotNull(metrics);
        Assert.Equal(RelayForwardingMetrics.MeterName, metrics.Meter.Name);
        using var reader = new MeterReader(metrics.Meter);

        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var target = relay.LocalAddresses[0].ToEndPoint();
        for (var i = 0; i < 5; i++)
        {
            sender.SendTo(RelayForwardingStageTests.ShortPacket(RelayForwardingStageTests.Cid(1)), target);
        }

        for (var i = 0; i < 3; i++)
        {
            sender.SendTo(RelayForwardingStageTests.ShortPacket(RelayForwardingStageTests.Cid(2)), target);
        }

        Assert.True(sink.WaitFor(5, Timeout));
        Assert.True(SpinWait.SpinUntil(() => reader.Read("quicpipe.relay.dropped", "reason=unknown_cid") == 3, Timeout));
        Assert.Equal(5, reader.Read("quicpipe.relay.forwarded"));
        Assert.Equal(8, reader.Read("quicpipe.relay.received"));
        Assert.Equal(relay.Snapshot().Packets.ForwardedBytes, reader.Read("quicpipe.relay.forwarded.bytes"));
        Assert.Equal(0, reader.Read("quicpipe.relay.dropped", "reason=reflection"));
        Assert.Equal(1, reader.Read("quicpipe.relay.routes.static"));
        Assert.Equal(relay.Table.Count, reader.Read("quicpipe.relay.routes"));
        Assert.Equal(0, reader.Read("quicpipe.relay.routes.evicted"));

        // The control meter lives as long: its counters are the control service's snapshot.
        using var control = new MeterReader(relay.Router.ControlMetrics!.Meter);
        Assert.Equal(0, control.Read("quicpipe.relay.control.sessions"));
        Assert.Equal(0, control.Read("quicpipe.relay.control.signals", "outcome=delivered"));
        Assert.Equal(0, control.Read("quicpipe.relay.registry.cids"));

        relay.Dispose();
        Assert.Null(relay.Router.ForwardingMetrics);
        Assert.Throws<KeyNotFoundException>(() => reader.Read("quicpipe.relay.forwarded"));
    }

    [Fact]
    public void The_XDP_meter_reports_the_program_counters_and_the_misses()
    {
        var stats = new XdpOffloadStats
        {
            Interface = "veth0",
            Mode = XdpAttachMode.Generic,
            Program = new XdpCounters(
                Received: 100, Transmitted: 60, PassedLongHeader: 5, PassedRelayCid: 4, Missed: 3, MissBufferFull: 1,
                Malformed: 2, NonQuic: 7, PassedFamilyChange: 1, PassedUnsupported: 1, PassedReflection: 1, PassedBusy: 6),
            MissesReinserted = 2,
            MissesIgnored = 1,
            SyncErrors = 0,
            RoutesNotOffloaded = 8,
            TransmitErrors = 9,
        };
        using var metrics = new XdpOffloadMetrics(() => stats);
        using var reader = new MeterReader(metrics.Meter);

        Assert.Equal(XdpOffloadMetrics.MeterName, metrics.Meter.Name);
        Assert.Equal(100, reader.Read("quicpipe.xdp.received"));
        Assert.Equal(60, reader.Read("quicpipe.xdp.transmitted"));
        Assert.Equal(5, reader.Read("quicpipe.xdp.passed", "reason=long_header"));
        Assert.Equal(4, reader.Read("quicpipe.xdp.passed", "reason=relay_cid"));
        Assert.Equal(3, reader.Read("quicpipe.xdp.passed", "reason=miss"));
        Assert.Equal(1, reader.Read("quicpipe.xdp.passed", "reason=reflection"));
        Assert.Equal(6, reader.Read("quicpipe.xdp.passed", "reason=busy"));
        Assert.Equal(1, reader.Read("quicpipe.xdp.miss_buffer_full"));
        Assert.Equal(2, reader.Read("quicpipe.xdp.malformed"));
        Assert.Equal(7, reader.Read("quicpipe.xdp.non_quic"));
        Assert.Equal(2, reader.Read("quicpipe.xdp.misses.reinserted"));
        Assert.Equal(1, reader.Read("quicpipe.xdp.misses.ignored"));
        Assert.Equal(0, reader.Read("quicpipe.xdp.sync_errors"));
        Assert.Equal(8, reader.Read("quicpipe.xdp.routes_not_offloaded"));
        Assert.Equal(9, reader.Read("quicpipe.xdp.transmit_errors"));
    }
}
