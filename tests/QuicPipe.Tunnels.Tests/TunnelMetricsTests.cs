using QuicPipe.Lab;
using QuicPipe.Tunnels.Diagnostics;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>The tunnels' meter (QuicPipe.Tunnels) reports the proxies' and the exposer's counters, by protocol and outcome.</summary>
public sealed class TunnelMetricsTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_tunnelled_and_a_refused_CONNECT_show_by_protocol_and_outcome()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        using var metrics = new TunnelMetrics();
        metrics.Add(proxy.Http);
        metrics.Add(proxy.Socks);
        metrics.Add(proxy.Tunnel.Exposer);
        using var reader = new MeterReader(metrics.Meter);

        var (tunnelled, okHead) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
        var (refused, refusedHead) = await proxy.HttpAsync(proxy.Connect(echo.Port + 1), timeout.Token);
        using (tunnelled)
        using (refused)
        {
            Assert.StartsWith("HTTP/1.1 200 ", okHead, StringComparison.Ordinal);
            Assert.StartsWith("HTTP/1.1 403 ", refusedHead, StringComparison.Ordinal); // the peer does not expose that port
        }

        Assert.True(SpinWait.SpinUntil(() => reader.Read("quicpipe.tunnels.proxy.requests", "outcome=failed", "protocol=http") == 1, Limit));
        Assert.Equal(1, reader.Read("quicpipe.tunnels.proxy.requests", "outcome=tunnelled", "protocol=http"));
        Assert.Equal(0, reader.Read("quicpipe.tunnels.proxy.requests", "outcome=tunnelled", "protocol=socks5"));
        Assert.Equal(proxy.Tunnel.Exposer.RejectedTunnels, reader.Read("quicpipe.tunnels.expose.streams", "outcome=rejected"));
        Assert.Equal(1, reader.Read("quicpipe.tunnels.expose.streams", "outcome=rejected"));
        Assert.Equal(1, reader.Read("quicpipe.tunnels.expose.streams", "outcome=served"));
        Assert.Equal(0, reader.Read("quicpipe.tunnels.forward.connections", "outcome=tunnelled"));
        Assert.Equal(TunnelMetrics.MeterName, metrics.Meter.Name);
    }
}
