using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class FlowControlTests
{
    private const int Window = 64 * 1024;
    private const int SendBuffer = 128 * 1024;
    private const int WriteSize = 16 * 1024;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_slow_reader_bounds_the_receivers_buffer_and_the_senders_queue_and_the_data_still_arrives_intact()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => (o.StreamReceiveWindow, o.MaxStreamReceiveWindow) = (Window, Window),
            client: o => o.StreamSendBuffer = SendBuffer);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        long written = 0;
        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += WriteSize)
            {
                await stream.WriteAsync(payload.AsMemory(offset, WriteSize), cancellationToken: timeout.Token);
                Interlocked.Add(ref written, WriteSize);
            }

            await stream.CompleteWritesAsync(timeout.Token);
        });

        // The reader takes the stream but reads nothing for a while: the sender must stall at the bounds.
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        await Task.Delay(700, timeout.Token);
        var stalledAt = Interlocked.Read(ref written);
        await Task.Delay(300, timeout.Token);
        Assert.Equal(stalledAt, Interlocked.Read(ref written));

        // Delivered (at most the receive window) plus queued (at most the send buffer); and the send buffer is
        // really full, so the writer waits on it rather than on anything else.
        Assert.InRange(stalledAt, SendBuffer, Window + SendBuffer);
        Assert.InRange(incoming.MaxBufferedBytes, 1, Window);
        Assert.InRange(stream.MaxUnackedBytes, (ulong)SendBuffer - WriteSize, (ulong)SendBuffer);
        Assert.False(writing.IsCompleted);

        // A reader that keeps up gets everything, and the bounds held throughout.
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.InRange(incoming.MaxBufferedBytes, 1, Window);
        Assert.InRange(stream.MaxUnackedBytes, 1UL, (ulong)SendBuffer);
    }

    [Fact]
    public async Task A_fast_transfer_with_default_windows_completes_intact()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var writing = StreamTransfer.WriteAllAsync(stream, payload, 256 * 1024, timeout.Token);

        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.InRange(stream.MaxUnackedBytes, 1UL, 1024UL * 1024);
    }

    [Fact]
    public async Task One_write_larger_than_the_send_buffer_goes_out_in_pieces_within_the_bound()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.StreamSendBuffer = SendBuffer);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);

        var writing = stream.WriteAsync(payload, endStream: true, timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.InRange(stream.MaxUnackedBytes, (ulong)SendBuffer / 2, (ulong)SendBuffer);
    }

    public static TheoryData<string> WaysToStopReading => new() { "complete the reader", "abort reading", "peer resets" };

    [Theory]
    [MemberData(nameof(WaysToStopReading))]
    public async Task Bytes_left_unread_when_reading_stops_give_the_connection_its_credit_back(string how)
    {
        using var timeout = new CancellationTokenSource(Limit);

        // One stream's window is the whole connection's: what stream A holds, stream B can only get back from A.
        await using var pair = new LoopbackPair(
            IPAddress.Loopback,
            server: o => (o.StreamReceiveWindow, o.MaxStreamReceiveWindow, o.ConnectionReceiveWindow, o.MaxConnectionReceiveWindow) = (Window, Window, Window, Window));
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var a = await client.OpenBidirectionalStreamAsync(timeout.Token);
        _ = a.WriteAsync(new byte[Window], cancellationToken: timeout.Token);
        var incomingA = await server.AcceptStreamAsync(timeout.Token);
        await Eventually.ValueAsync(() => Task.FromResult(incomingA.MaxBufferedBytes), n => n == Window, TimeSpan.FromSeconds(5), "bytes buffered on stream A");

        switch (how)
        {
            case "complete the reader":
                await incomingA.Input.CompleteAsync();
                break;
            case "abort reading":
                await incomingA.AbortAsync(1, QuicAbortDirection.Read, timeout.Token);
                break;
            default:
                await a.AbortAsync(2, QuicAbortDirection.Write, timeout.Token);
                break;
        }

        var b = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(4 * Window);
        await b.WriteAsync(payload, endStream: true, timeout.Token);
        var incomingB = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incomingB.Input, timeout.Token);

        Assert.Equal(payload, received);
    }
}
