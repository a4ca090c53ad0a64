using System.Net;
using QuicPipe.Tunnels.Internal;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

public class ProxyOptionsTests
{
    [Fact]
    public async Task A_timeout_longer_than_a_timer_counts_is_refused_at_start_instead_of_dropping_every_client()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = new EchoServer();

        // The longest accepted still works: a timer takes it, and both proxies serve.
        await using var proxy = await ProxyFixture.StartAsync(
            o => o.AllowedPorts.Add(echo.Port),
            timeout.Token,
            o => o.HeaderTimeout = TimerLimit.Max,
            connectTimeout: TimerLimit.Max);
        var (http, head) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
        using (http)
        {
            Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
            await HttpProxyTests.AssertEchoesAsync(http, timeout.Token);
        }

        var (socks, reply) = await proxy.SocksAsync(ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port), timeout.Token);
        using (socks)
        {
            Assert.Equal(new byte[] { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, reply);
            await HttpProxyTests.AssertEchoesAsync(socks, timeout.Token);
        }

        // One millisecond more made every client's timer throw: each was closed without an answer.
        var beyond = TimerLimit.Max + TimeSpan.FromMilliseconds(1);
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        var options = new ProxyOptions { HeaderTimeout = beyond };
        Assert.Equal(nameof(ProxyOptions.HeaderTimeout), Assert.Throws<ArgumentOutOfRangeException>(() => HttpProxy.Start(proxy.Connector, loopback, options)).ParamName);
        Assert.Equal(nameof(ProxyOptions.HeaderTimeout), Assert.Throws<ArgumentOutOfRangeException>(() => Socks5Proxy.Start(proxy.Connector, loopback, options)).ParamName);
        foreach (var connectTimeout in new[] { beyond, TimeSpan.FromMilliseconds(-2) })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PeerTunnelConnector((_, _) => Task.FromResult(proxy.Tunnel.Client), new PeerTunnelConnectorOptions { ConnectTimeout = connectTimeout }));
            Assert.Equal(nameof(PeerTunnelConnectorOptions.ConnectTimeout), error.ParamName);
        }
    }
}
