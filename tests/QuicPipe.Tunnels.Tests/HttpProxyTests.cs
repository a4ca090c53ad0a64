using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using QuicPipe.Lab;
using QuicPipe.Quic;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Tunnels.Tests;

public class HttpProxyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CONNECT_tunnels_both_ways_with_half_close_and_keeps_bytes_sent_before_the_answer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        var early = "sent-before-200|"u8.ToArray();
        var payload = RandomNumberGenerator.GetBytes(300_000);

        // The head and the first tunnelled bytes in one send: the proxy must not lose what follows the head.
        using var client = await TunnelFixture.ConnectTcpAsync(proxy.Http.LocalEndPoint, timeout.Token);
        byte[] first = [.. Encoding.ASCII.GetBytes(proxy.Connect(echo.Port)), .. early];
        await client.SendAsync(first, SocketFlags.None, timeout.Token);
        var head = await ProxyFixture.ReadHeadAsync(client, timeout.Token);
        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
        await client.SendAsync(payload, SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
        var reply = await TcpOverQuicTests.ReadToEndAsync(client, timeout.Token);

        Assert.Equal([.. early, .. payload, .. EchoServer.Trailer], reply);
        Assert.Equal(1, proxy.Http.TunnelledConnections);
    }

    [Fact]
    public async Task Credentials_are_required_when_configured_407_without_and_200_with()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token, o => o.Credentials = new ProxyCredentials("alice", "s3cret"));

        var (none, noneHead) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
        using (none)
        {
            Assert.StartsWith("HTTP/1.1 407 ", noneHead, StringComparison.Ordinal);
            Assert.Contains("\r\nProxy-Authenticate: Basic ", noneHead, StringComparison.Ordinal);
        }

        var wrong = "Proxy-Authorization: Basic " + Convert.ToBase64String("alice:wrong"u8) + "\r\n";
        var (bad, badHead) = await proxy.HttpAsync(proxy.Connect(echo.Port, wrong), timeout.Token);
        using (bad)
        {
            Assert.StartsWith("HTTP/1.1 407 ", badHead, StringComparison.Ordinal);
        }

        var right = "Proxy-Authorization: Basic " + Convert.ToBase64String("alice:s3cret"u8) + "\r\n";
        var (good, goodHead) = await proxy.HttpAsync(proxy.Connect(echo.Port, right), timeout.Token);
        using (good)
        {
            Assert.StartsWith("HTTP/1.1 200 ", goodHead, StringComparison.Ordinal);
            await AssertEchoesAsync(good, timeout.Token);
        }

        Assert.Equal(2, proxy.Http.FailedRequests);
        Assert.Single(echo.ClientPorts);
    }

    [Fact]
    public async Task A_closed_port_is_502_a_port_not_exposed_is_403_and_other_hosts_are_refused_for_CONNECT_and_GET_alike()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var closedPort = new ClosedTcpPort();
        var closed = closedPort.Port;
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(closed), timeout.Token);

        Assert.StartsWith("HTTP/1.1 502 ", await AnswerAsync(proxy, proxy.Connect(closed), timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403 ", await AnswerAsync(proxy, proxy.Connect(closed + 1), timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403 ", await AnswerAsync(proxy, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 502 ", await AnswerAsync(proxy, "CONNECT notanodeid.quicpipe:443 HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 502 ", await AnswerAsync(proxy, $"GET http://{proxy.PeerHost}:{closed}/ HTTP/1.1\r\nHost: x\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 403 ", await AnswerAsync(proxy, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.Contains(proxy.Tunnel.Rejections, r => r.Status == TunnelStatus.Refused);
        Assert.Contains(proxy.Tunnel.Rejections, r => r.Status == TunnelStatus.NotAllowed);
    }

    [Fact]
    public async Task A_peer_that_refuses_the_dial_is_403_an_unreachable_one_502_and_a_slow_one_504()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var refusing = NodeIdentity.Generate().NodeId;
        var gone = NodeIdentity.Generate().NodeId;
        var silent = NodeIdentity.Generate().NodeId;
        await using var proxy = await ProxyFixture.StartAsync(
            _ => { },
            timeout.Token,
            dial: async (peer, cancellationToken) =>
            {
                if (peer == refusing)
                {
                    throw new PeerDialException(PeerTunnelOutcome.PeerRefused, "refused");
                }

                if (peer == gone)
                {
                    throw new InvalidOperationException("not on the relay");
                }

                await Task.Delay(Timeout.Infinite, cancellationToken);
                throw new InvalidOperationException("unreachable");
            },
            connectTimeout: TimeSpan.FromMilliseconds(500));

        Assert.StartsWith("HTTP/1.1 403 ", await AnswerAsync(proxy, $"CONNECT {PeerHostName.Format(refusing)}:80 HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 502 ", await AnswerAsync(proxy, $"CONNECT {PeerHostName.Format(gone)}:80 HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 504 ", await AnswerAsync(proxy, $"CONNECT {PeerHostName.Format(silent)}:80 HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_oversized_truncated_and_silent_requests_get_an_answer_or_a_close_and_the_proxy_keeps_serving()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token, o => o.HeaderTimeout = TimeSpan.FromMilliseconds(500));

        Assert.StartsWith("HTTP/1.1 400 ", await AnswerAsync(proxy, "CONNECT nohost HTTP/1.1\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await AnswerAsync(proxy, "\u0005\u0001\u0000", timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await AnswerAsync(proxy, "CONNECT a:1 HTTP/1.1\r\nX: \u0000\r\n\r\n", timeout.Token), StringComparison.Ordinal);
        var huge = proxy.Connect(echo.Port, "X-Pad: " + new string('a', 9000) + "\r\n");
        Assert.StartsWith("HTTP/1.1 431 ", await AnswerAsync(proxy, huge, timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 408 ", await AnswerAsync(proxy, "CONNECT a:1 HTTP/1.1\r\n", timeout.Token), StringComparison.Ordinal);

        // Truncated: the client gives up half-way; nothing to answer, nothing to break.
        using (var truncated = await TunnelFixture.ConnectTcpAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await truncated.SendAsync("CONNECT a:1 HT"u8.ToArray(), SocketFlags.None, timeout.Token);
            truncated.Shutdown(SocketShutdown.Send);
            Assert.Empty(await TcpOverQuicTests.ReadToEndAsync(truncated, timeout.Token));
        }

        var random = RandomNumberGenerator.GetBytes(4096);
        using (var garbage = await TunnelFixture.ConnectTcpAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await garbage.SendAsync(random, SocketFlags.None, timeout.Token);
            var bytes = await ReadAllOrResetAsync(garbage, timeout.Token);
            var answer = Encoding.Latin1.GetString(bytes);
            Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), answer);
        }

        var (good, head) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
        using (good)
        {
            Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
            await AssertEchoesAsync(good, timeout.Token);
        }

        await TunnelFixture.EventuallyAsync(() => proxy.Http.ActiveConnections == 0, "every connection released", timeout.Token);
    }

    [Fact]
    public async Task At_the_connection_limit_a_new_client_waits_until_a_slot_frees()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token, o => o.MaxConnections = 1);

        var (first, head) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);

        using var second = await TunnelFixture.ConnectTcpAsync(proxy.Http.LocalEndPoint, timeout.Token);
        await second.SendAsync(Encoding.ASCII.GetBytes(proxy.Connect(echo.Port)), SocketFlags.None, timeout.Token);
        var answer = ProxyFixture.ReadHeadAsync(second, timeout.Token);
        await Task.Delay(500, timeout.Token);
        Assert.False(answer.IsCompleted, "the second client was served while the only slot was taken");

        await AssertEchoesAsync(first, timeout.Token);
        first.Dispose();
        Assert.StartsWith("HTTP/1.1 200 ", await answer, StringComparison.Ordinal);
        await AssertEchoesAsync(second, timeout.Token);
    }

    [Fact]
    public async Task A_thousand_parallel_short_CONNECTs_100_at_a_time_all_come_back_byte_exact()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var echo = new EchoServer();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        using var slots = new SemaphoreSlim(100);

        await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            await slots.WaitAsync(timeout.Token);
            try
            {
                var (client, head) = await proxy.HttpAsync(proxy.Connect(echo.Port), timeout.Token);
                using (client)
                {
                    Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
                    var message = RandomNumberGenerator.GetBytes(500 + (i % 50 * 31));
                    await client.SendAsync(message, SocketFlags.None, timeout.Token);
                    client.Shutdown(SocketShutdown.Send);
                    var reply = await TcpOverQuicTests.ReadToEndAsync(client, timeout.Token);
                    Assert.Equal([.. message, .. EchoServer.Trailer], reply);
                }
            }
            finally
            {
                slots.Release();
            }
        }));

        Assert.Equal(1000, proxy.Http.TunnelledConnections);
        Assert.Equal(1000, echo.ClientPorts.Count);
    }

    [Fact]
    public async Task A_client_that_reads_slowly_or_not_at_all_stalls_the_sender_and_what_is_held_on_the_way_stays_bounded()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var source = new SourceServer(SlowConsumer.Total, SlowConsumer.SourceSendBuffer);
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(source.Port), timeout.Token);

        var (client, head) = await proxy.HttpAsync(proxy.Connect(source.Port), timeout.Token, SlowConsumer.ClientReceiveBuffer);
        using (client)
        {
            Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
            await SlowConsumer.RunAsync(client, source, SlowConsumer.Bound(client, source), output, timeout.Token);
        }
    }

    internal static async Task AssertEchoesAsync(Socket client, CancellationToken cancellationToken)
    {
        var message = RandomNumberGenerator.GetBytes(10_000);
        await client.SendAsync(message, SocketFlags.None, cancellationToken);
        client.Shutdown(SocketShutdown.Send);
        var reply = await TcpOverQuicTests.ReadToEndAsync(client, cancellationToken);
        Assert.Equal([.. message, .. EchoServer.Trailer], reply);
    }

    /// <summary>Sends a request and returns everything the proxy answered before closing.</summary>
    private static async Task<string> AnswerAsync(ProxyFixture proxy, string request, CancellationToken cancellationToken)
    {
        var (socket, head) = await proxy.HttpAsync(request, cancellationToken);
        using (socket)
        {
            var rest = await ReadAllOrResetAsync(socket, cancellationToken);
            return head + Encoding.Latin1.GetString(rest);
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
