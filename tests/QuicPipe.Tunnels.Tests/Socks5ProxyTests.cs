using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using QuicPipe.Lab;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Tunnels.Tests;

public class Socks5ProxyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CONNECT_to_a_quicpipe_name_succeeds_and_tunnels_both_ways()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);

        var (client, reply) = await proxy.SocksAsync(ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port), timeout.Token);
        using (client)
        {
            Assert.Equal(new byte[] { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, reply);
            await HttpProxyTests.AssertEchoesAsync(client, timeout.Token);
        }

        Assert.Equal(1, proxy.Socks.TunnelledConnections);
    }

    [Fact]
    public async Task Username_and_password_are_required_when_configured_and_checked()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token, o => o.Credentials = new ProxyCredentials("bob", "pw"));

        // Only "no authentication" offered: no acceptable method, and the proxy closes.
        var (noAuth, noAuthReply) = await proxy.SocksAsync(ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port), timeout.Token);
        using (noAuth)
        {
            Assert.Equal(new byte[] { 5, 0xFF }, noAuthReply);
            Assert.Empty(await TcpOverQuicTests.ReadToEndAsync(noAuth, timeout.Token));
        }

        using (var wrong = await LoginAsync(proxy, "bob", "nope", timeout.Token))
        {
            Assert.Equal(new byte[] { 1, 1 }, await ProxyFixture.ReadExactlyAsync(wrong, 2, timeout.Token));
            Assert.Empty(await TcpOverQuicTests.ReadToEndAsync(wrong, timeout.Token));
        }

        using (var right = await LoginAsync(proxy, "bob", "pw", timeout.Token))
        {
            Assert.Equal(new byte[] { 1, 0 }, await ProxyFixture.ReadExactlyAsync(right, 2, timeout.Token));
            await right.SendAsync(ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port), SocketFlags.None, timeout.Token);
            Assert.Equal(new byte[] { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, await ProxyFixture.ReadExactlyAsync(right, 10, timeout.Token));
            await HttpProxyTests.AssertEchoesAsync(right, timeout.Token);
        }

        Assert.Single(echo.ClientPorts);
    }

    [Fact]
    public async Task Reply_codes_say_why_refused_not_allowed_unsupported_or_unreachable()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var closedPort = new ClosedTcpPort();
        var closed = closedPort.Port;
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(closed), timeout.Token);

        Assert.Equal(0x05, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect(proxy.PeerHost, closed), timeout.Token));
        Assert.Equal(0x02, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect(proxy.PeerHost, closed + 1), timeout.Token));
        Assert.Equal(0x02, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect("example.com", 80), timeout.Token));
        Assert.Equal(0x04, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect("notanodeid.quicpipe", 80), timeout.Token));
        Assert.Equal(0x07, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect(proxy.PeerHost, closed, Socks5Request.CommandBind), timeout.Token));
        Assert.Equal(0x07, await ReplyCodeAsync(proxy, ProxyFixture.SocksConnect(proxy.PeerHost, closed, Socks5Request.CommandUdpAssociate), timeout.Token));
        Assert.Equal(0x08, await ReplyCodeAsync(proxy, [5, 1, 0, 1, 127, 0, 0, 1, 0, 80], timeout.Token));
        Assert.Equal(0x08, await ReplyCodeAsync(proxy, [5, 1, 0, 4, .. new byte[16], 0, 80], timeout.Token));
        Assert.Equal(0x08, await ReplyCodeAsync(proxy, [5, 1, 0, 7, 1, 2, 3], timeout.Token));
    }

    [Fact]
    public async Task Garbage_wrong_versions_truncated_and_silent_clients_are_closed_and_the_proxy_keeps_serving()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token, o => o.HeaderTimeout = TimeSpan.FromMilliseconds(500));

        byte[][] bad =
        [
            [4, 1, 0, 80, 127, 0, 0, 1, 0], // SOCKS4
            [5, 0], // no methods
            "CONNECT x:1 HTTP/1.1\r\n\r\n"u8.ToArray(),
            RandomNumberGenerator.GetBytes(2000),
            [5, 1], // truncated, then silent: closed by the header timeout
        ];
        foreach (var bytes in bad)
        {
            using var client = await TunnelFixture.ConnectTcpAsync(proxy.Socks.LocalEndPoint, timeout.Token);
            await client.SendAsync(bytes, SocketFlags.None, timeout.Token);
            var answer = await ReadAllOrResetAsync(client, timeout.Token);
            Assert.True(answer.Length <= 2, $"{answer.Length} bytes answered to garbage");
        }

        // A good greeting then a request of the wrong version, and a truncated request after a FIN.
        using (var wrongVersion = await TunnelFixture.ConnectTcpAsync(proxy.Socks.LocalEndPoint, timeout.Token))
        {
            await wrongVersion.SendAsync(new byte[] { 5, 1, 0, 4, 1, 0, 3 }, SocketFlags.None, timeout.Token);
            Assert.Equal(new byte[] { 5, 0 }, await ReadAllOrResetAsync(wrongVersion, timeout.Token));
        }

        using (var truncated = await TunnelFixture.ConnectTcpAsync(proxy.Socks.LocalEndPoint, timeout.Token))
        {
            await truncated.SendAsync(new byte[] { 5, 1, 0, 5, 1, 0, 3, 60, (byte)'a' }, SocketFlags.None, timeout.Token);
            truncated.Shutdown(SocketShutdown.Send);
            Assert.Equal(new byte[] { 5, 0 }, await ReadAllOrResetAsync(truncated, timeout.Token));
        }

        var (good, reply) = await proxy.SocksAsync(ProxyFixture.SocksConnect(proxy.PeerHost, echo.Port), timeout.Token);
        using (good)
        {
            Assert.Equal(0, reply[1]);
            await HttpProxyTests.AssertEchoesAsync(good, timeout.Token);
        }

        await TunnelFixture.EventuallyAsync(() => proxy.Socks.ActiveConnections == 0, "every connection released", timeout.Token);
    }

    [Fact]
    public async Task A_client_that_reads_slowly_or_not_at_all_stalls_the_sender_and_what_is_held_on_the_way_stays_bounded()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var source = new SourceServer(SlowConsumer.Total, SlowConsumer.SourceSendBuffer);
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(source.Port), timeout.Token);

        var (client, reply) = await proxy.SocksAsync(ProxyFixture.SocksConnect(proxy.PeerHost, source.Port), timeout.Token, SlowConsumer.ClientReceiveBuffer);
        using (client)
        {
            Assert.Equal(new byte[] { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, reply);
            await SlowConsumer.RunAsync(client, source, SlowConsumer.Bound(client, source), output, timeout.Token);
        }
    }

    private static async Task<Socket> LoginAsync(ProxyFixture proxy, string user, string password, CancellationToken cancellationToken)
    {
        var socket = await TunnelFixture.ConnectTcpAsync(proxy.Socks.LocalEndPoint, cancellationToken);
        await socket.SendAsync(new byte[] { 5, 2, 0, 2 }, SocketFlags.None, cancellationToken);
        Assert.Equal(new byte[] { 5, 2 }, await ProxyFixture.ReadExactlyAsync(socket, 2, cancellationToken));
        byte[] login = [1, (byte)user.Length, .. Encoding.ASCII.GetBytes(user), (byte)password.Length, .. Encoding.ASCII.GetBytes(password)];
        await socket.SendAsync(login, SocketFlags.None, cancellationToken);
        return socket;
    }

    private static async Task<byte> ReplyCodeAsync(ProxyFixture proxy, byte[] request, CancellationToken cancellationToken)
    {
        var (socket, reply) = await proxy.SocksAsync(request, cancellationToken);
        using (socket)
        {
            Assert.Equal(10, reply.Length);
            Assert.Equal(5, reply[0]);
            return reply[1];
        }
    }

    private static async Task<byte[]> ReadAllOrResetAsync(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            return await TcpOverQuicTests.ReadToEndAsync(socket, cancellationToken);
        }
        catch (SocketException)
        {
            return [];
        }
    }
}
