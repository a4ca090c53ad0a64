using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// A write that fits in the send buffer is copied into the stream's staging ring and completes at once; one that
/// does not waits, and wakes its writer to half the buffer free (issue 16: one thread hand-over per run of writes,
/// not per write).
/// </summary>
public class StreamWriteStagingTests
{
    private const int SendBuffer = 128 * 1024;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_write_that_fits_completes_at_once_with_a_copy_of_the_callers_bytes()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(16 * 1024);
        var buffer = payload.ToArray();

        var write = stream.WriteAsync(buffer, cancellationToken: timeout.Token);
        Assert.True(write.IsCompletedSuccessfully);
        await write;

        // Completed means the bytes are ours: the caller may reuse its buffer at once.
        Array.Clear(buffer);
        await stream.CompleteWritesAsync(timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        Assert.Equal(payload, await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token));
    }

    [Fact]
    public async Task A_stream_whose_staged_bytes_went_out_holds_no_staging_ring()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var payload = RandomNumberGenerator.GetBytes(8 * 1024);

        await stream.WriteAsync(payload, cancellationToken: timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var read = await incoming.Input.ReadAtLeastAsync(payload.Length, timeout.Token);
        Assert.Equal(payload, read.Buffer.ToArray());
        incoming.Input.AdvanceTo(read.Buffer.End);

        // The stream stays open and idle: its ring went back to the pool once the loop moved the bytes out, so a
        // thousand idle streams do not hold a thousand rings.
        await Eventually.ValueAsync(() => Task.FromResult(stream.HoldsStagingRing), held => !held, TimeSpan.FromSeconds(10), "the idle stream's staging ring");

        // And the next write rents one again.
        await stream.WriteAsync(payload, endStream: true, timeout.Token);
        Assert.Equal(payload, await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token));
    }

    [Fact]
    public async Task A_bulk_writer_waits_once_per_run_of_writes_and_the_bounds_hold()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.StreamSendBuffer = SendBuffer);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        const int WriteSize = 16 * 1024;
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var writes = payload.Length / WriteSize;
        var waits = 0;
        var writing = Task.Run(
            async () =>
            {
                for (var offset = 0; offset < payload.Length; offset += WriteSize)
                {
                    var write = stream.WriteAsync(payload.AsMemory(offset, WriteSize), cancellationToken: timeout.Token);
                    if (!write.IsCompleted)
                    {
                        waits++;
                    }

                    await write;
                }

                await stream.CompleteWritesAsync(timeout.Token);
            },
            timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));

        // A wait ends with at most half the buffer queued, so the writer goes on through at least
        // (SendBuffer / 2) / WriteSize - 1 = 3 writes before the next one: every write waited before.
        Assert.InRange(waits, 1, writes / 3);
        Assert.InRange(stream.MaxUnackedBytes, 1UL, (ulong)SendBuffer);
    }

    [Fact]
    public async Task Writes_of_mixed_sizes_staged_and_waiting_arrive_whole_and_in_order()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var pair = new LoopbackPair(IPAddress.Loopback, client: o => o.StreamSendBuffer = SendBuffer);
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);

        // From one byte to past the whole send buffer: small ones wrap around the ring, larger ones wait, the largest
        // go out in pieces.
        var random = new Random(16);
        var pieces = Enumerable.Range(0, 300).Select(_ => RandomNumberGenerator.GetBytes(random.Next(4) switch
        {
            0 => random.Next(1, 100),
            1 => random.Next(1, 16 * 1024),
            2 => random.Next(16 * 1024, SendBuffer / 2),
            _ => random.Next(SendBuffer / 2, 2 * SendBuffer),
        })).ToArray();
        var writing = Task.Run(
            async () =>
            {
                foreach (var piece in pieces)
                {
                    await stream.WriteAsync(piece, cancellationToken: timeout.Token);
                }

                await stream.CompleteWritesAsync(timeout.Token);
            },
            timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);
        var received = await StreamTransfer.ReadToEndAsync(incoming.Input, timeout.Token);
        await writing;

        Assert.Equal(SHA256.HashData(pieces.SelectMany(p => p).ToArray()), SHA256.HashData(received));
        Assert.InRange(stream.MaxUnackedBytes, 1UL, (ulong)SendBuffer);
    }
}
