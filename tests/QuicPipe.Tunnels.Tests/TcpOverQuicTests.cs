using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using QuicPipe.Lab;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Tunnels.Tests;

public class TcpOverQuicTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sixteen_MiB_cross_forward_and_expose_intact_both_ways()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);

        var sending = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += 100_000)
            {
                await client.SendAsync(payload.AsMemory(offset, Math.Min(100_000, payload.Length - offset)), SocketFlags.None, timeout.Token);
            }

            client.Shutdown(SocketShutdown.Send);
        });
        var received = await ReadToEndAsync(client, timeout.Token);
        await sending;

        Assert.Equal(payload.Length + EchoServer.Trailer.Length, received.Length);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.AsSpan(0, payload.Length)));
        Assert.Equal(1, forwarder.TunnelledConnections);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(1000)]
    public async Task Many_parallel_short_connections_share_one_QUIC_connection_and_all_come_back_right(int count)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);

        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
            var message = RandomNumberGenerator.GetBytes(1000 + (i % 100 * 37));
            await client.SendAsync(message, SocketFlags.None, timeout.Token);
            client.Shutdown(SocketShutdown.Send);
            var reply = await ReadToEndAsync(client, timeout.Token);
            Assert.Equal([.. message, .. EchoServer.Trailer], reply);
        }));

        Assert.Equal(count, forwarder.TunnelledConnections);
        Assert.Equal(count, echo.ClientPorts.Count);
    }

    [Fact]
    public async Task A_closed_target_port_reaches_the_client_as_a_reset_promptly()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var closed = new ClosedTcpPort();
        var closedPort = closed.Port;
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(closedPort), timeout.Token);
        await using var forwarder = tunnel.Forward(closedPort);

        var clock = Stopwatch.StartNew();
        var error = await TunnelFixture.ExpectResetAsync(forwarder.LocalEndPoint, timeout.Token);
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal(1, forwarder.RefusedConnections);
        var rejection = Assert.Single(tunnel.Rejections);
        Assert.Equal(TunnelStatus.Refused, rejection.Status);
        Assert.Equal(tunnel.ClientIdentity.NodeId, rejection.Peer);
    }

    [Fact]
    public async Task A_port_not_on_the_allow_list_is_a_reset_and_the_target_never_sees_a_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port + 1), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);

        var error = await TunnelFixture.ExpectResetAsync(forwarder.LocalEndPoint, timeout.Token);
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.Equal(TunnelStatus.NotAllowed, Assert.Single(tunnel.Rejections).Status);
        Assert.Empty(echo.ClientPorts);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task A_target_host_on_the_allow_list_is_connected_to(string host)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(
            o =>
            {
                o.AllowedPorts.Add(echo.Port);
                o.AllowedHosts.Add(host);
            },
            timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port, host);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        await client.SendAsync("via host"u8.ToArray(), SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("via host<eof>", Encoding.ASCII.GetString(await ReadToEndAsync(client, timeout.Token)));
    }

    [Fact]
    public async Task Half_close_from_the_client_still_delivers_the_servers_reply()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);

        await client.SendAsync("request"u8.ToArray(), SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);

        // The trailer is written by the server only after it saw our FIN, through the tunnel.
        Assert.Equal("request<eof>", Encoding.ASCII.GetString(await ReadToEndAsync(client, timeout.Token)));
    }

    [Fact]
    public async Task Half_close_from_the_server_lets_the_client_keep_sending()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptAsync(timeout.Token);
            await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None, timeout.Token);
            socket.Shutdown(SocketShutdown.Send);
            return await ReadToEndAsync(socket, timeout.Token);
        });
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(port), timeout.Token);
        await using var forwarder = tunnel.Forward(port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);

        Assert.Equal("hello", Encoding.ASCII.GetString(await ReadToEndAsync(client, timeout.Token)));
        await client.SendAsync("after your FIN"u8.ToArray(), SocketFlags.None, timeout.Token);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("after your FIN", Encoding.ASCII.GetString(await server));
    }

    [Fact]
    public async Task A_slow_reader_stalls_the_sender_instead_of_buffering_everything()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var sink = new EchoServer(readNothing: true);
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(sink.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(sink.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        client.SendBufferSize = 64 * 1024;
        const int Total = 256 * 1024 * 1024;
        long accepted = 0;
        var chunk = new byte[64 * 1024];
        var sending = Task.Run(async () =>
        {
            while (Interlocked.Read(ref accepted) < Total)
            {
                var sent = await client.SendAsync(chunk, SocketFlags.None, timeout.Token);
                Interlocked.Add(ref accepted, sent);
            }

            client.Shutdown(SocketShutdown.Send);
        });

        // Wait until the bytes the client's socket accepted stop growing: every buffer on the way is full.
        long previous = -1;
        long now = 0;
        for (var i = 0; i < 50 && now != previous; i++)
        {
            previous = now;
            await Task.Delay(500, timeout.Token);
            now = Interlocked.Read(ref accepted);
        }

        Assert.Equal(previous, now);
        Assert.False(sending.IsCompleted);
        output.WriteLine($"the sender stalled after {now / 1024} KiB of {Total / 1024} KiB offered");

        // Socket buffers on four sockets plus one QUIC stream window and send buffer: far below what was offered.
        Assert.InRange(now, 1, 48L * 1024 * 1024);
        await Task.Delay(1000, timeout.Token);
        Assert.Equal(now, Interlocked.Read(ref accepted));

        // The reader wakes up: everything flows to the end, byte count exact.
        sink.StartReading();
        var received = await CountToEndAsync(client, timeout.Token);
        await sending;
        Assert.Equal(Total + EchoServer.Trailer.Length, received);
    }

    [Fact]
    public async Task The_exposer_names_the_peer_behind_a_local_source_port()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);
        using var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        await client.SendAsync("x"u8.ToArray(), SocketFlags.None, timeout.Token);
        var buffer = new byte[1];
        Assert.Equal(1, await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));

        var sourcePort = Assert.Single(echo.ClientPorts);
        Assert.True(tunnel.Exposer.TryGetRemoteNodeId(sourcePort, out var node));
        Assert.Equal(tunnel.ClientIdentity.NodeId, node);
        Assert.False(tunnel.Exposer.TryGetRemoteNodeId(forwarder.LocalEndPoint.Port, out _));

        // The entry goes with the tunnel.
        client.Shutdown(SocketShutdown.Send);
        await ReadToEndAsync(client, timeout.Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (tunnel.Exposer.TryGetRemoteNodeId(sourcePort, out _) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, timeout.Token);
        }

        Assert.False(tunnel.Exposer.TryGetRemoteNodeId(sourcePort, out _));
    }

    [Fact]
    public async Task A_client_reset_resets_the_targets_connection_too()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(port), timeout.Token);
        await using var forwarder = tunnel.Forward(port);
        var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
        using var server = await listener.AcceptAsync(timeout.Token);
        await client.SendAsync("x"u8.ToArray(), SocketFlags.None, timeout.Token);
        Assert.Equal(1, await server.ReceiveAsync(new byte[1], SocketFlags.None, timeout.Token));

        client.LingerState = new LingerOption(true, 0);
        client.Dispose();

        var error = await Assert.ThrowsAsync<SocketException>(async () => await server.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact]
    public async Task Closing_the_QUIC_connection_resets_every_tunnelled_TCP_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var echo = new EchoServer();
        await using var tunnel = await TunnelFixture.StartAsync(o => o.AllowedPorts.Add(echo.Port), timeout.Token);
        await using var forwarder = tunnel.Forward(echo.Port);
        var clients = new List<Socket>();
        for (var i = 0; i < 5; i++)
        {
            var client = await TunnelFixture.ConnectTcpAsync(forwarder.LocalEndPoint, timeout.Token);
            clients.Add(client);
            await client.SendAsync("x"u8.ToArray(), SocketFlags.None, timeout.Token);
            Assert.Equal(1, await client.ReceiveAsync(new byte[1], SocketFlags.None, timeout.Token));
        }

        await tunnel.Client.CloseAsync(0, timeout.Token);

        foreach (var client in clients)
        {
            using (client)
            {
                var error = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token));
                Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
            }
        }
    }

    internal static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return all.ToArray();
            }

            all.Write(buffer, 0, read);
        }
    }

    private static async Task<long> CountToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        long total = 0;
        var buffer = new byte[256 * 1024];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return total;
            }

            total += read;
        }
    }
}
