using System.Net;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class ClosingPeriodTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task After_CloseAsync_packets_are_answered_with_the_close_until_the_closing_period_ends()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.MinimumClosingPeriod = Period);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        await client.CloseAsync(7, timeout.Token);
        var peerError = await Assert.ThrowsAsync<QuicConnectionException>(() => server.Closed.WaitAsync(timeout.Token));
        Assert.Contains("application error 7", peerError.Message, StringComparison.Ordinal);
        Assert.Equal((0, 0, 1), await pair.Client.GetConnectionCountsAsync());

        // Late packets for the closed connection (retransmissions, say) get the CONNECTION_CLOSE again, at a
        // falling rate (the 1st, 2nd, 4th... packet after the close; the server may have sent some already).
        using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var cid = client.LocalConnectionIds[0];
        for (var i = 0; i < 4; i++)
        {
            await probe.SendAsync(ShortHeaderPacket(cid), pair.Client.LocalEndPoint, timeout.Token);
        }

        var answer = await probe.ReceiveAsync(timeout.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(2), timeout.Token);
        Assert.True(answer.Buffer.Length >= 20, $"a {answer.Buffer.Length}-byte answer is no CONNECTION_CLOSE packet");
        await Task.Delay(100, timeout.Token);
        var answered = pair.Client.CloseRetransmissions;
        Assert.InRange(answered, 1, 3);

        // After the period the CIDs no longer route: the same packet is unroutable and unanswered.
        await Eventually.ValueAsync(() => pair.Client.GetConnectionCountsAsync(), c => c.Closing == 0, TimeSpan.FromSeconds(5), "closing connections");
        var unroutable = pair.Client.UnroutableDatagrams;
        await probe.SendAsync(ShortHeaderPacket(cid), pair.Client.LocalEndPoint, timeout.Token);
        await Eventually.ValueAsync(() => Task.FromResult(pair.Client.UnroutableDatagrams), n => n > unroutable, TimeSpan.FromSeconds(2), "unroutable datagrams");
        while (probe.Available > 0)
        {
            _ = await probe.ReceiveAsync(timeout.Token);
        }

        Assert.Equal(answered, pair.Client.CloseRetransmissions);
    }

    [Fact]
    public async Task A_received_close_starts_a_draining_period_that_sends_nothing_then_ends()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.MinimumClosingPeriod = Period);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        await server.CloseAsync(9, timeout.Token);
        var error = await Assert.ThrowsAsync<QuicConnectionException>(() => client.Closed.WaitAsync(timeout.Token));
        Assert.Contains("application error 9", error.Message, StringComparison.Ordinal);
        Assert.Equal((0, 0, 1), await pair.Client.GetConnectionCountsAsync());

        // Draining: packets for it are absorbed (not unroutable) and never answered.
        using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var unroutable = pair.Client.UnroutableDatagrams;
        for (var i = 0; i < 3; i++)
        {
            await probe.SendAsync(ShortHeaderPacket(client.LocalConnectionIds[0]), pair.Client.LocalEndPoint, timeout.Token);
        }

        await Task.Delay(200, timeout.Token);
        Assert.Equal(0, probe.Available);
        Assert.Equal(unroutable, pair.Client.UnroutableDatagrams);
        Assert.Equal(0, pair.Client.CloseRetransmissions);
        await Eventually.ValueAsync(() => pair.Client.GetConnectionCountsAsync(), c => c.Closing == 0, TimeSpan.FromSeconds(5), "draining connections");
    }

    [Fact]
    public async Task Without_a_minimum_the_closing_period_is_a_few_loopback_PTOs()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        await client.CloseAsync(0, timeout.Token);
        await Assert.ThrowsAsync<QuicConnectionException>(() => server.Closed.WaitAsync(timeout.Token));

        // Both ends drop the connection's state within about three PTOs (well under a second on loopback).
        await Eventually.ValueAsync(() => pair.Client.GetConnectionCountsAsync(), c => c == (0, 0, 0), TimeSpan.FromSeconds(3), "client connections");
        await Eventually.ValueAsync(() => pair.Server.GetConnectionCountsAsync(), c => c == (0, 0, 0), TimeSpan.FromSeconds(3), "server connections");
    }

    /// <summary>A 1-RTT packet for <paramref name="cid"/> with random protected bytes.</summary>
    private static byte[] ShortHeaderPacket(Dataplane.ConnectionId cid)
    {
        var packet = new byte[60];
        Random.Shared.NextBytes(packet);
        packet[0] = (byte)(0x40 | (0x3F & packet[0]));
        cid.Span.CopyTo(packet.AsSpan(1));
        return packet;
    }
}
