using QuicPipe.Lab;
using QuicPipe.Quic;
using QuicPipe.Vpn.Diagnostics;
using Xunit;

namespace QuicPipe.Vpn.Tests;

/// <summary>The VPN's meter (QuicPipe.Vpn) reports the router's counters: packets each way and drops by reason.</summary>
public sealed class VpnMetricsTests
{
    [Fact]
    public async Task Every_counter_of_the_router_is_an_instrument()
    {
        await using var vpn = TestVpn.Create([(NodeIdentity.Generate().NodeId, ["100.64.0.2/32"])]);
        using var metrics = new VpnMetrics(vpn.Router);
        using var reader = new MeterReader(metrics.Meter);
        var counters = vpn.Counters;
        counters.PacketsSent = 5;
        counters.BytesSent = 500;
        counters.PacketsReceived = 4;
        counters.BytesReceived = 400;
        counters.NoRoute = 3;
        counters.Spoofed = 2;
        counters.TunWriteFailed = 1;

        Assert.Equal(VpnMetrics.MeterName, metrics.Meter.Name);
        Assert.Equal(5, reader.Read("quicpipe.vpn.sent"));
        Assert.Equal(500, reader.Read("quicpipe.vpn.sent.bytes"));
        Assert.Equal(4, reader.Read("quicpipe.vpn.received"));
        Assert.Equal(400, reader.Read("quicpipe.vpn.received.bytes"));
        Assert.Equal(3, reader.Read("quicpipe.vpn.dropped", "reason=no_route"));
        Assert.Equal(2, reader.Read("quicpipe.vpn.dropped", "reason=spoofed"));
        Assert.Equal(1, reader.Read("quicpipe.vpn.dropped", "reason=tun_write_failed"));
        Assert.Equal(0, reader.Read("quicpipe.vpn.dropped", "reason=not_ip"));
    }
}
