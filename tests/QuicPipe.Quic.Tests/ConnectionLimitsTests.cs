using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class ConnectionLimitsTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Initials_beyond_the_half_open_cap_are_refused_and_the_half_open_ones_time_out()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o =>
            {
                o.MaxHandshakingConnections = 4;

                // Long enough that no slot frees before all twelve dials' Initials arrived, even on a loaded
                // machine (at 600 ms a slow start let late dials in instead of being refused).
                o.HandshakeTimeout = TimeSpan.FromSeconds(2);
            },
            client: o => o.HandshakeTimeout = TimeSpan.FromSeconds(2));

        // Real client Initials reach the server through a one-way relay, so no handshake can complete: each
        // one the server takes stays half-open, as with a forged Initial from a spoofed address.
        using var relay = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var forwarding = ForwardClientToServerAsync(relay, pair.Client.LocalEndPoint.Port, pair.Server.LocalEndPoint, timeout.Token);
        var dials = Enumerable.Range(0, 12).Select(_ => pair.Client.ConnectAsync(
            (IPEndPoint)relay.Client.LocalEndPoint!, new QuicClientConnectionOptions { ExpectedPeer = pair.ServerIdentity.NodeId }, timeout.Token)).ToArray();

        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.RefusedConnections), n => n >= 8, TimeSpan.FromSeconds(5), "refused Initials");
        var counts = await pair.Server.GetConnectionCountsAsync();
        Assert.Equal(4, counts.Handshaking);
        Assert.Equal(4, counts.Live);
        foreach (var dial in dials)
        {
            await Assert.ThrowsAsync<QuicConnectionException>(() => dial);
        }

        // The handshake timeout frees every slot, silently; then a real client gets in.
        await Eventually.ValueAsync(() => pair.Server.GetConnectionCountsAsync(), c => c == (0, 0, 0), TimeSpan.FromSeconds(5), "half-open connections");
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        timeout.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => forwarding);
    }

    [Fact]
    public async Task Junk_Initials_leave_no_connection_behind()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.MaxHandshakingConnections = 4);
        using var sender = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var random = new Random(7);
        for (var i = 0; i < 12; i++)
        {
            await sender.SendAsync(JunkInitial(random), pair.Server.LocalEndPoint, timeout.Token);
        }

        // ngtcp2 cannot decrypt them, so each connection they start is dropped at once and frees its slot.
        await Eventually.ValueAsync(() => Task.FromResult(pair.Server.UnroutableDatagrams + pair.Server.RefusedConnections), n => n == 0, TimeSpan.FromSeconds(1), "counters");
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        Assert.Equal(pair.ServerIdentity.NodeId, client.RemoteNodeId);
        Assert.Equal((1, 0, 0), await pair.Server.GetConnectionCountsAsync());
        Assert.Equal(0, pair.Server.RefusedConnections);
    }

    private static async Task ForwardClientToServerAsync(UdpClient relay, int clientPort, IPEndPoint server, CancellationToken cancellationToken)
    {
        while (true)
        {
            var received = await relay.ReceiveAsync(cancellationToken);
            if (received.RemoteEndPoint.Port == clientPort)
            {
                await relay.SendAsync(received.Buffer, server, cancellationToken);
            }
        }
    }

    [Fact]
    public async Task MaxConnections_refuses_incoming_connections_and_local_dials_beyond_it()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => o.MaxConnections = 1,
            client: o =>
            {
                o.MaxConnections = 2;
                o.HandshakeTimeout = TimeSpan.FromMilliseconds(700);
            });
        var (first, _) = await pair.ConnectPairAsync(timeout.Token);

        // The server is full: the second dial's Initials are refused, so its handshake times out.
        var second = await Assert.ThrowsAsync<QuicConnectionException>(() => pair.ConnectAsync(pair.ServerIdentity.NodeId, timeout.Token));
        Assert.Contains("HandshakeTimeout", second.Message, StringComparison.Ordinal);
        Assert.True(pair.Server.RefusedConnections >= 1);

        // The client is not full yet (1 live), so a third dial to a silent port starts; a fourth does not.
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var options = new QuicClientConnectionOptions { AllowAnyPeer = true };
        var third = pair.Client.ConnectAsync((IPEndPoint)silent.Client.LocalEndPoint!, options, timeout.Token);
        var fourth = await Assert.ThrowsAsync<QuicConnectionException>(() => pair.Client.ConnectAsync((IPEndPoint)silent.Client.LocalEndPoint!, options, timeout.Token));
        Assert.Contains("MaxConnections", fourth.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<QuicConnectionException>(() => third);
        Assert.False(first.Closed.IsCompleted);
    }

    [Fact]
    public async Task A_dial_to_a_silent_peer_fails_at_the_handshake_timeout()
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await using var client = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions
        {
            Identity = NodeIdentity.Generate(),
            HandshakeTimeout = TimeSpan.FromMilliseconds(400),
        });
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<QuicConnectionException>(() =>
            client.ConnectAsync((IPEndPoint)silent.Client.LocalEndPoint!, new QuicClientConnectionOptions { AllowAnyPeer = true }, timeout.Token));

        Assert.Equal(-246, error.NativeError);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(5));
        Assert.Equal(0, (await client.GetConnectionCountsAsync()).Live);
    }

    /// <summary>A QUIC v1 Initial whose header is well formed and whose protected payload is random.</summary>
    internal static byte[] JunkInitial(Random random)
    {
        var packet = new byte[1200];
        random.NextBytes(packet);
        packet[0] = 0xC3;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1), 1);
        packet[5] = 12;
        packet[18] = 8;
        packet[27] = 0; // token length
        var remaining = packet.Length - 30;
        packet[28] = (byte)(0x40 | (remaining >> 8));
        packet[29] = (byte)remaining;
        return packet;
    }
}
