using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>Unreliable DATAGRAM frames (RFC 9221).</summary>
public class DatagramTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_thousand_datagrams_cross_loopback_intact()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        Assert.InRange(client.MaxDatagramSize, 1000, 1500);
        Assert.InRange(server.MaxDatagramSize, 1000, 1500);
        const int Count = 1000;

        var receiving = Task.Run(async () =>
        {
            var seen = new bool[Count];
            var received = 0;
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            try
            {
                while (received < Count)
                {
                    quiet.CancelAfter(TimeSpan.FromSeconds(2));
                    var datagram = await server.ReadDatagramAsync(quiet.Token);
                    var index = BinaryPrimitives.ReadInt32LittleEndian(datagram.Span);
                    Assert.Equal(Payload(index).AsSpan(), datagram.Span);
                    Assert.False(seen[index], $"datagram {index} arrived twice");
                    seen[index] = true;
                    received++;
                }
            }
            catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
            {
                // No more for 2 s: the rest were lost.
            }

            return received;
        });

        for (var i = 0; i < Count; i++)
        {
            await client.SendDatagramAsync(Payload(i), timeout.Token);
        }

        var arrived = await receiving;
        var stats = await client.GetStatsAsync(timeout.Token);

        // Loopback loses nothing; every one that left arrived, and none was dropped on either side.
        Assert.True(arrived == Count, $"{arrived} of {Count} arrived; lost {stats.PacketsLost}, dropped on send {client.DatagramsDroppedOnSend}, on receive {server.DatagramsDroppedOnReceive}");
        Assert.Equal(0, server.DatagramsDroppedOnReceive);

        // And the other way, at the exact limit.
        var largest = RandomNumberGenerator.GetBytes(server.MaxDatagramSize);
        await server.SendDatagramAsync(largest, timeout.Token);
        var back = await client.ReadDatagramAsync(timeout.Token);
        Assert.Equal(largest, back.ToArray());
        await client.CloseAsync(0, timeout.Token);
    }

    [Fact]
    public async Task An_oversize_datagram_is_refused_naming_the_limit()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.SendDatagramAsync(new byte[client.MaxDatagramSize + 1], timeout.Token));
        Assert.Contains($"limit of {client.MaxDatagramSize} bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_limit_follows_the_peers_max_datagram_frame_size()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.MaxDatagramFrameSize = 103);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        // 103 less the frame's type byte and 2-byte length.
        Assert.Equal(100, client.MaxDatagramSize);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.SendDatagramAsync(new byte[101], timeout.Token));
        await client.SendDatagramAsync(new byte[100], timeout.Token);
        Assert.Equal(100, (await server.ReadDatagramAsync(timeout.Token)).Length);
    }

    [Fact]
    public async Task Sending_to_a_peer_without_datagram_support_is_refused_clearly()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.MaxDatagramFrameSize = 0);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        Assert.Equal(0, client.MaxDatagramSize);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendDatagramAsync(new byte[10], timeout.Token));
        Assert.Contains("did not negotiate DATAGRAM frames", error.Message, StringComparison.Ordinal);
        Assert.Contains("max_datagram_frame_size", error.Message, StringComparison.Ordinal);

        // The connection is unharmed, and the other direction (the client takes DATAGRAMs) still works.
        await server.SendDatagramAsync(new byte[] { 1, 2, 3 }, timeout.Token);
        Assert.Equal(new byte[] { 1, 2, 3 }, (await client.ReadDatagramAsync(timeout.Token)).ToArray());
    }

    [Fact]
    public async Task A_full_receive_queue_drops_and_counts()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => o.DatagramReceiveQueue = 10);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        for (var i = 0; i < 50; i++)
        {
            await client.SendDatagramAsync(Payload(i), timeout.Token);
        }

        await Eventually.ValueAsync(() => Task.FromResult(server.DatagramsDroppedOnReceive), n => n == 40, TimeSpan.FromSeconds(5), "dropped datagrams");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, BinaryPrimitives.ReadInt32LittleEndian((await server.ReadDatagramAsync(timeout.Token)).Span));
        }
    }

    [Fact]
    public async Task Reading_after_the_end_throws()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, _) = await pair.ConnectPairAsync(timeout.Token);
        var read = client.ReadDatagramAsync(timeout.Token).AsTask();

        await client.CloseAsync(0, timeout.Token);

        await Assert.ThrowsAsync<QuicConnectionException>(() => read);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendDatagramAsync(new byte[1], timeout.Token));
    }

    private static byte[] Payload(int index)
    {
        var payload = new byte[16 + (index % 200)];
        for (var i = 4; i < payload.Length; i++)
        {
            payload[i] = (byte)(index * 7 + i);
        }

        BinaryPrimitives.WriteInt32LittleEndian(payload, index);
        return payload;
    }
}
