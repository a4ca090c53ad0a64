using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// <see cref="QuicStream.TryFeedFrom"/>: the loop thread reads a TCP socket into a stream, within the send buffer,
/// and ends as the socket, the stream or <see cref="QuicSocketFeed.Stop"/> says.
/// </summary>
public class SocketFeedTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_socket_feeds_a_stream_intact_after_earlier_writes_with_a_small_send_buffer_and_its_FIN_ends_the_stream()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.StreamSendBuffer = 64 * 1024);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var (tcpWriter, tcpFed) = await TcpPairAsync(timeout.Token);
        using var _ = tcpWriter;
        using var __ = tcpFed;

        var outgoing = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var header = new byte[] { 0xAA, 0xBB, 0xCC };
        await outgoing.WriteAsync(header, cancellationToken: timeout.Token);
        var feed = outgoing.TryFeedFrom(tcpFed);
        Assert.NotNull(feed);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await outgoing.WriteAsync(new byte[1], cancellationToken: timeout.Token));

        var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var sending = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += 70_000)
            {
                await tcpWriter.SendAsync(payload.AsMemory(offset, Math.Min(70_000, payload.Length - offset)), SocketFlags.None, timeout.Token);
            }

            tcpWriter.Shutdown(SocketShutdown.Send);
        }, timeout.Token);

        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await sending;

        Assert.Equal(QuicSocketFeedEnd.SocketEnded, await feed.Completion.WaitAsync(timeout.Token));
        Assert.Equal(header.Length + payload.Length, received.Length);
        Assert.Equal(header, received[..header.Length]);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.AsSpan(header.Length)));
        Assert.True(outgoing.MaxUnackedBytes <= 64 * 1024, $"the feed held {outgoing.MaxUnackedBytes} bytes unacknowledged, over the 64 KiB send buffer");
    }

    [Fact]
    public async Task Stop_leaves_later_bytes_in_the_socket_and_a_reset_socket_or_a_stopped_stream_ends_the_feed()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);

        // Stop: what was read arrives; what comes after stays in the socket for its owner.
        var (writer1, fed1) = await TcpPairAsync(timeout.Token);
        using (writer1)
        using (fed1)
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            var feed = stream.TryFeedFrom(fed1)!;
            await writer1.SendAsync(new byte[] { 1, 2, 3 }, SocketFlags.None, timeout.Token);
            var incoming = await server.AcceptStreamAsync(timeout.Token);
            var first = await incoming.Input.ReadAtLeastAsync(3, timeout.Token);
            Assert.Equal(new byte[] { 1, 2, 3 }, first.Buffer.ToArray());
            incoming.Input.AdvanceTo(first.Buffer.End);

            feed.Stop();
            Assert.Equal(QuicSocketFeedEnd.Stopped, await feed.Completion.WaitAsync(timeout.Token));
            await writer1.SendAsync(new byte[] { 4, 5 }, SocketFlags.None, timeout.Token);
            var left = new byte[2];
            Assert.Equal(2, await fed1.ReceiveAsync(left, SocketFlags.None, timeout.Token));
            Assert.Equal(new byte[] { 4, 5 }, left);
        }

        // A reset socket: SocketFailed.
        var (writer2, fed2) = await TcpPairAsync(timeout.Token);
        using (fed2)
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            var feed = stream.TryFeedFrom(fed2)!;
            writer2.LingerState = new LingerOption(true, 0);
            writer2.Dispose();
            Assert.Equal(QuicSocketFeedEnd.SocketFailed, await feed.Completion.WaitAsync(timeout.Token));
        }

        // The stream's writes aborted: StreamFailed, and the socket is no longer read.
        var (writer3, fed3) = await TcpPairAsync(timeout.Token);
        using (writer3)
        using (fed3)
        {
            var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
            var feed = stream.TryFeedFrom(fed3)!;
            await stream.AbortAsync(77, QuicAbortDirection.Write, timeout.Token);
            Assert.Equal(QuicSocketFeedEnd.StreamFailed, await feed.Completion.WaitAsync(timeout.Token));
            await writer3.SendAsync(new byte[] { 9 }, SocketFlags.None, timeout.Token);
            var left = new byte[1];
            Assert.Equal(1, await fed3.ReceiveAsync(left, SocketFlags.None, timeout.Token));
        }
    }

    private static async Task<(Socket Writer, Socket Fed)> TcpPairAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var writer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepting = listener.AcceptAsync(cancellationToken).AsTask();
        await writer.ConnectAsync(listener.LocalEndPoint!, cancellationToken);
        return (writer, await accepting);
    }
}
