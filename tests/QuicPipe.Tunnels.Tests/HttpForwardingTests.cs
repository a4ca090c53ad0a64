using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// Plain-HTTP requests in absolute-form through <see cref="HttpProxy"/> to a real HTTP server (Kestrel) behind the
/// exposing peer, over a real QUIC pair on loopback: the rewrite the origin sees, bodies both ways in each framing,
/// keep-alive over one tunnel, the auto-config file, and every failure answered.
/// </summary>
public sealed class HttpForwardingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_absolute_form_GET_reaches_the_origin_in_origin_form_with_Host_from_the_URL_Via_added_and_hop_by_hop_fields_removed()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token);
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        await client.SendAsync(
            $"GET http://{proxy.PeerHost.ToUpperInvariant()}:{origin.Port}/page?q=1 HTTP/1.1\r\nHost: wrong.example\r\nProxy-Connection: keep-alive\r\n" +
            "Connection: keep-alive, X-Hop\r\nX-Hop: dropped\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n\r\n",
            timeout.Token);
        var response = await client.ReadResponseAsync(timeout.Token);

        Assert.Equal(200, response.Status);
        Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString(response.Body));
        Assert.Equal("1.1 quicpipe", response.Header("Via"));
        Assert.Null(response.Header("Connection"));
        var seen = Assert.Single(origin.Requests);
        Assert.Equal("GET", seen.Method);
        Assert.Equal("/page?q=1", seen.PathAndQuery);
        Assert.Equal($"{proxy.PeerHost.ToUpperInvariant()}:{origin.Port}", seen.Headers["Host"]);
        Assert.Equal("1.1 quicpipe", seen.Headers["Via"]);
        Assert.Equal("kept", seen.Headers["X-End-To-End"]);
        foreach (var hop in new[] { "X-Hop", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Authorization" })
        {
            Assert.False(seen.Headers.ContainsKey(hop), $"{hop} reached the origin");
        }

        // Counted once the response is relayed whole, which the client may see a moment before the proxy does.
        await TunnelFixture.EventuallyAsync(() => proxy.Http.ForwardedRequests == 1, "the request counted as forwarded", timeout.Token);
    }

    [Fact]
    public async Task Requests_on_one_client_connection_ride_one_tunnel_to_one_origin_connection_and_a_new_port_gets_a_new_one()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var other = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => { o.AllowedPorts.Add(origin.Port); o.AllowedPorts.Add(other.Port); }, timeout.Token);
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\nHost: x\r\n\r\n", timeout.Token);
            Assert.Equal(200, (await client.ReadResponseAsync(timeout.Token)).Status);
        }

        // Pipelined: both requests in one send; the second waits in the proxy until the first's response is relayed.
        await client.SendAsync(
            $"GET http://{proxy.PeerHost}:{other.Port}/page HTTP/1.1\r\n\r\nGET http://{proxy.PeerHost}:{other.Port}/stream?kib=3 HTTP/1.1\r\n\r\n",
            timeout.Token);
        Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString((await client.ReadResponseAsync(timeout.Token)).Body));
        Assert.Equal(3 * 1024, (await client.ReadResponseAsync(timeout.Token)).Body.Length);

        Assert.Equal(3, origin.Requests.Count);
        Assert.Single(origin.Requests.Select(r => r.ConnectionId).Distinct());
        Assert.Equal(2, other.Requests.Count);
        Assert.Single(other.Requests.Select(r => r.ConnectionId).Distinct());
        await TunnelFixture.EventuallyAsync(() => proxy.Http.ForwardedRequests == 5, "five requests counted as forwarded", timeout.Token);
        Assert.Equal(1, proxy.Http.ActiveConnections);
    }

    [Fact]
    public async Task Request_bodies_with_Content_Length_chunked_and_Expect_100_continue_arrive_byte_exact_and_keep_the_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token);
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);
        var url = $"http://{proxy.PeerHost}:{origin.Port}/echo";

        var sized = RandomNumberGenerator.GetBytes(700_000);
        await client.SendAsync([.. Encoding.ASCII.GetBytes($"POST {url} HTTP/1.1\r\nContent-Length: {sized.Length}\r\n\r\n"), .. sized], timeout.Token);
        var echoed = await client.ReadResponseAsync(timeout.Token);
        Assert.Equal(200, echoed.Status);
        Assert.Equal(sized, echoed.Body);

        // Chunked, with a chunk extension and a trailer: forwarded as it came, decoded by the origin.
        var parts = new[] { RandomNumberGenerator.GetBytes(1), RandomNumberGenerator.GetBytes(40_000), RandomNumberGenerator.GetBytes(4095) };
        var chunked = new List<byte>(Encoding.ASCII.GetBytes($"PUT {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
        foreach (var part in parts)
        {
            chunked.AddRange(Encoding.ASCII.GetBytes($"{part.Length:x};ext=1\r\n"));
            chunked.AddRange(part);
            chunked.AddRange("\r\n"u8.ToArray());
        }

        chunked.AddRange("0\r\nX-Checksum: none\r\n\r\n"u8.ToArray());
        await client.SendAsync([.. chunked], timeout.Token);
        var chunkedEcho = await client.ReadResponseAsync(timeout.Token);
        Assert.Equal(parts.SelectMany(p => p).ToArray(), chunkedEcho.Body);

        // Expect: the body is sent only after the origin's 100 Continue came back through the proxy.
        var expected = RandomNumberGenerator.GetBytes(5000);
        await client.SendAsync($"POST {url} HTTP/1.1\r\nContent-Length: {expected.Length}\r\nExpect: 100-continue\r\n\r\n", timeout.Token);
        Assert.StartsWith("HTTP/1.1 100 ", await client.ReadHeadAsync(timeout.Token), StringComparison.Ordinal);
        await client.SendAsync(expected, timeout.Token);
        Assert.Equal(expected, (await client.ReadResponseAsync(timeout.Token)).Body);

        Assert.Equal([sized.Length, parts.Sum(p => p.Length), expected.Length], origin.Requests.Select(r => r.BodyBytes));
        Assert.Single(origin.Requests.Select(r => r.ConnectionId).Distinct());
    }

    [Fact]
    public async Task A_chunked_response_streams_through_and_a_HEAD_response_has_no_body_and_the_connection_goes_on()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token);
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/stream?kib=2048 HTTP/1.1\r\n\r\n", timeout.Token);
        var streamed = await client.ReadResponseAsync(timeout.Token);
        Assert.Equal("chunked", streamed.Header("Transfer-Encoding"));
        Assert.Equal(2048 * 1024, streamed.Body.Length);
        for (var i = 0; i < streamed.Body.Length; i++)
        {
            Assert.True(streamed.Body[i] == TestHttpOrigin.StreamByte(i), $"byte {i}");
        }

        await client.SendAsync($"HEAD http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\n\r\n", timeout.Token);
        var head = await client.ReadResponseAsync(timeout.Token, headRequest: true);
        Assert.Equal(200, head.Status);

        await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\n\r\n", timeout.Token);
        Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString((await client.ReadResponseAsync(timeout.Token)).Body));
        Assert.Single(origin.Requests.Select(r => r.ConnectionId).Distinct());
    }

    [Fact]
    public async Task A_response_without_a_length_is_relayed_to_the_origins_close_and_then_the_client_is_closed_as_it_is_for_Connection_close_and_HTTP_1_0()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var closing = new ScriptedOrigin("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close"u8.ToArray(), closeAfter: true);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => { o.AllowedPorts.Add(closing.Port); o.AllowedPorts.Add(origin.Port); }, timeout.Token);

        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"GET http://{proxy.PeerHost}:{closing.Port}/ HTTP/1.1\r\n\r\n", timeout.Token);
            var response = await client.ReadResponseAsync(timeout.Token);
            Assert.Equal("close", response.Header("Connection"));
            Assert.Equal("until the close", Encoding.ASCII.GetString(response.Body));
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }

        foreach (var request in new[] { "HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.0\r\n\r\n" })
        {
            using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);
            await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page {request}", timeout.Token);
            var response = await client.ReadResponseAsync(timeout.Token);
            Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString(response.Body));
            Assert.Equal("close", response.Header("Connection"));
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }
    }

    [Fact]
    public async Task The_auto_config_file_sends_quicpipe_names_to_the_address_the_client_used_and_the_rest_direct_and_the_connection_goes_on()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token, o => o.Credentials = new ProxyCredentials("alice", "s3cret"));
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        // No credentials: a browser fetches the file directly and has none to give.
        await client.SendAsync("GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout.Token);
        var pac = await client.ReadResponseAsync(timeout.Token);
        Assert.Equal(200, pac.Status);
        Assert.Equal("application/x-ns-proxy-autoconfig", pac.Header("Content-Type"));
        var script = Encoding.ASCII.GetString(pac.Body);
        Assert.Contains("function FindProxyForURL(url, host)", script, StringComparison.Ordinal);
        Assert.Contains($"\"PROXY 127.0.0.1:{proxy.Http.LocalEndPoint.Port}\"", script, StringComparison.Ordinal);
        Assert.Contains(".quicpipe", script, StringComparison.Ordinal);
        Assert.Contains("return \"DIRECT\";", script, StringComparison.Ordinal);

        var basic = "Proxy-Authorization: Basic " + Convert.ToBase64String("alice:s3cret"u8) + "\r\n";
        await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\n{basic}\r\n", timeout.Token);
        Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString((await client.ReadResponseAsync(timeout.Token)).Body));
        Assert.False(Assert.Single(origin.Requests).Headers.ContainsKey("Proxy-Authorization"), "the proxy's credentials reached the origin");

        await client.SendAsync("GET /other HTTP/1.1\r\n\r\n", timeout.Token);
        Assert.Equal(404, (await client.ReadResponseAsync(timeout.Token)).Status);
    }

    [Fact]
    public async Task Without_credentials_a_forwarded_request_is_407_and_with_the_wrong_ones_too()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token, o => o.Credentials = new ProxyCredentials("alice", "s3cret"));

        foreach (var auth in new[] { string.Empty, "Proxy-Authorization: Basic " + Convert.ToBase64String("alice:nope"u8) + "\r\n" })
        {
            using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);
            await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\n{auth}\r\n", timeout.Token);
            var response = await client.ReadResponseAsync(timeout.Token);
            Assert.Equal(407, response.Status);
            Assert.StartsWith("Basic ", response.Header("Proxy-Authenticate"), StringComparison.Ordinal);
        }

        Assert.Empty(origin.Requests);
    }

    [Theory]
    [InlineData("POST {url} HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400)]
    [InlineData("POST {url} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 400)]
    [InlineData("GET https://{host}/ HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET http://user@{host}/ HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET ftp://{host}/ HTTP/1.1\r\n\r\n", 400)]
    [InlineData("OPTIONS * HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET http://example.com/ HTTP/1.1\r\n\r\n", 403)]
    [InlineData("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n", 403)]
    [InlineData("GET http://notanodeid.quicpipe/ HTTP/1.1\r\n\r\n", 502)]
    [InlineData("GET http://{peer}:{closed}/ HTTP/1.1\r\n\r\n", 502)]
    [InlineData("GET http://{peer}:{unexposed}/ HTTP/1.1\r\n\r\n", 403)]
    public async Task Bad_requests_and_unreachable_targets_get_their_status_and_the_proxy_serves_the_next_client(string template, int status)
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var closedPort = new ClosedTcpPort();
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => { o.AllowedPorts.Add(origin.Port); o.AllowedPorts.Add(closedPort.Port); }, timeout.Token);
        var request = template
            .Replace("{url}", $"http://{proxy.PeerHost}:{origin.Port}/echo", StringComparison.Ordinal)
            .Replace("{host}", $"{proxy.PeerHost}:{origin.Port}", StringComparison.Ordinal)
            .Replace("{peer}", proxy.PeerHost, StringComparison.Ordinal)
            .Replace("{port}", origin.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{closed}", closedPort.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{unexposed}", (closedPort.Port ^ 1).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync(request, timeout.Token);
            var response = await client.ReadResponseAsync(timeout.Token);
            Assert.True(response.Status == status, response.Head);
            Assert.Equal("close", response.Header("Connection"));
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }

        await AssertServesAsync(proxy, origin, timeout.Token);
    }

    [Fact]
    public async Task Oversized_truncated_and_silent_request_heads_get_431_a_close_and_408()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var origin = await TestHttpOrigin.StartAsync();
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(origin.Port), timeout.Token, o => o.HeaderTimeout = TimeSpan.FromMilliseconds(700));
        var url = $"http://{proxy.PeerHost}:{origin.Port}/page";

        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"GET {url} HTTP/1.1\r\nX-Pad: {new string('a', 9000)}\r\n\r\n", timeout.Token);
            Assert.Equal(431, (await client.ReadResponseAsync(timeout.Token)).Status);
        }

        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"GET {url} HTTP/1.1\r\nHost: x\r\n", timeout.Token);
            client.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }

        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"GET {url} HTTP/1.1\r\nHost: x\r\n", timeout.Token);
            Assert.Equal(408, (await client.ReadResponseAsync(timeout.Token)).Status);
        }

        // Kept alive and then silent: closed without a 408, which a client would take as its next response.
        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"GET {url} HTTP/1.1\r\n\r\n", timeout.Token);
            Assert.Equal(200, (await client.ReadResponseAsync(timeout.Token)).Status);
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }

        // A body cut short by the client's FIN: the origin's request is reset, nothing is answered.
        using (var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token))
        {
            await client.SendAsync($"POST http://{proxy.PeerHost}:{origin.Port}/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part", timeout.Token);
            client.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(await client.IsClosedAsync(timeout.Token));
        }

        await AssertServesAsync(proxy, origin, timeout.Token);
        await TunnelFixture.EventuallyAsync(() => proxy.Http.ActiveConnections == 0, "every connection released", timeout.Token);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n", 502)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello", 502)]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 502)]
    [InlineData("", 502)]
    [InlineData(null, 504)]
    public async Task An_origin_that_answers_badly_closes_or_stays_silent_is_502_or_504(string? answer, int status)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var bad = new ScriptedOrigin(answer is null ? null : Encoding.ASCII.GetBytes(answer), closeAfter: true);
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(bad.Port), timeout.Token, o => o.ResponseTimeout = TimeSpan.FromMilliseconds(700));
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        await client.SendAsync($"GET http://{proxy.PeerHost}:{bad.Port}/ HTTP/1.1\r\n\r\n", timeout.Token);
        var response = await client.ReadResponseAsync(timeout.Token);

        Assert.True(response.Status == status, response.Head);
        Assert.True(await client.IsClosedAsync(timeout.Token));
    }

    [Fact]
    public async Task A_chunked_response_that_breaks_its_framing_is_cut_off_so_the_client_cannot_take_it_as_whole()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var bad = new ScriptedOrigin("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nnot-hex\r\n"u8.ToArray(), closeAfter: false);
        await using var proxy = await ProxyFixture.StartAsync(o => o.AllowedPorts.Add(bad.Port), timeout.Token);
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, timeout.Token);

        await client.SendAsync($"GET http://{proxy.PeerHost}:{bad.Port}/ HTTP/1.1\r\n\r\n", timeout.Token);

        await Assert.ThrowsAnyAsync<Exception>(() => client.ReadResponseAsync(timeout.Token));
        Assert.Equal(0, proxy.Http.ForwardedRequests);
    }

    private static async Task AssertServesAsync(ProxyFixture proxy, TestHttpOrigin origin, CancellationToken cancellationToken)
    {
        using var client = await RawHttpClient.ConnectAsync(proxy.Http.LocalEndPoint, cancellationToken);
        await client.SendAsync($"GET http://{proxy.PeerHost}:{origin.Port}/page HTTP/1.1\r\n\r\n", cancellationToken);
        Assert.Equal(TestHttpOrigin.Page, Encoding.UTF8.GetString((await client.ReadResponseAsync(cancellationToken)).Body));
    }
}

/// <summary>
/// An origin that reads a request head and answers with fixed bytes (null: never answers), then closes or stays.
/// </summary>
internal sealed class ScriptedOrigin(byte[]? answer, bool closeAfter) : LoopbackServer
{
    protected override async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        var seen = new List<byte>();
        var buffer = new byte[4096];
        while (seen.Count < 4 || !seen.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, stopping);
            if (read == 0)
            {
                return;
            }

            seen.AddRange(buffer.AsSpan(0, read));
        }

        if (answer is null)
        {
            await Task.Delay(Timeout.Infinite, stopping);
            return;
        }

        await socket.SendAsync(answer, SocketFlags.None, stopping);
        if (closeAfter)
        {
            socket.Shutdown(SocketShutdown.Send);
            return;
        }

        await Task.Delay(Timeout.Infinite, stopping);
    }
}
