using System.Net;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// Issue 3, process-wide: what the whole process allocates during a bulk transfer on one stream (both loop
/// threads, the stream pipes' buffers, the writer's and the reader's tasks), per packet sent or received. Runs in
/// the stress collection, alone, because <see cref="GC.GetTotalAllocatedBytes(bool)"/> sees every thread.
/// </summary>
[Collection(StressCollection.Name)]
public class ProcessAllocationTests(ITestOutputHelper output)
{
    private const long WarmUpBytes = 8L * 1024 * 1024;
    private const long MeasuredBytes = 64L * 1024 * 1024;

    // The application's write size: small, so that anything allocated per write shows (~5 packets per write).
    private const int Chunk = 4 * 1024;

    // A window the warm-up fills: the stream pipes' working set (pool blocks, the Pipe's segments) is then in place
    // before measuring. With the default 16 MiB window a lagging reader can pile up a larger backlog later than in
    // the warm-up, and creating the blocks for it is the pool's capacity growing, not a cost per packet.
    private const int Window = 256 * 1024;

    // Measured with this test (perf/RESULTS.md, 2026-11-30): 48-51 B per packet on either path before the stream
    // buffer pool and the reusable stream write (a PendingStreamWrite, its TaskCompletionSource and Task, a closure
    // and its Action per write: ~250 B per ~5 packets), 0.1-9.8 B after (what is left is mostly the test host
    // reporting the previous test's result on another thread). The bound sits between them, well away from both.
    private const double MaxBytesPerPacket = 16;

    [Fact]
    public Task A_bulk_transfer_through_QuicStream_WriteAsync_allocates_little_per_packet_process_wide() =>
        MeasureAsync(static async (stream, total, cancellationToken) =>
        {
            var buffer = new byte[Chunk];
            for (long sent = 0; sent < total; sent += Chunk)
            {
                await stream.WriteAsync(buffer, cancellationToken: cancellationToken);
            }

            await stream.CompleteWritesAsync(cancellationToken);
        });

    [Fact]
    public Task A_bulk_transfer_through_the_stream_context_allocates_little_per_packet_process_wide() =>
        MeasureAsync(static async (stream, total, cancellationToken) =>
        {
            await using var context = stream.AsConnectionContext();
            var writer = context.Transport.Output;
            for (long sent = 0; sent < total; sent += Chunk)
            {
                writer.GetSpan(Chunk)[..Chunk].Clear();
                writer.Advance(Chunk);
                var flush = await writer.FlushAsync(cancellationToken);
                Assert.False(flush.IsCompleted, "the stream stopped taking writes");
            }

            await writer.CompleteAsync();
        });

    private async Task MeasureAsync(Func<QuicStream, long, CancellationToken, Task> write)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o => (o.StreamReceiveWindow, o.MaxStreamReceiveWindow) = (Window, Window));
        var (client, server) = await pair.ConnectPairAsync(timeout.Token);
        var stream = await client.OpenBidirectionalStreamAsync(timeout.Token);
        var writing = Task.Run(() => write(stream, WarmUpBytes + MeasuredBytes, timeout.Token), timeout.Token);
        var incoming = await server.AcceptStreamAsync(timeout.Token);

        long received = 0;
        long allocatedAtStart = 0;
        QuicConnectionStats statsAtStart = default;
        var measuring = false;
        while (true)
        {
            var result = await incoming.Input.ReadAsync(timeout.Token);
            received += result.Buffer.Length;
            incoming.Input.AdvanceTo(result.Buffer.End);
            if (!measuring && received >= WarmUpBytes)
            {
                measuring = true;
                statsAtStart = await client.GetStatsAsync(timeout.Token);
                allocatedAtStart = GC.GetTotalAllocatedBytes(precise: true);
            }

            if (result.IsCompleted)
            {
                break;
            }
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedAtStart;
        var stats = await client.GetStatsAsync(timeout.Token);
        await writing;
        Assert.Equal(WarmUpBytes + MeasuredBytes, received);

        var packets = stats.PacketsSent - statsAtStart.PacketsSent + stats.PacketsReceived - statsAtStart.PacketsReceived;
        var perPacket = (double)allocated / Math.Max(1, packets);
        output.WriteLine($"process: {allocated} B over {packets} packets (client sent {stats.PacketsSent - statsAtStart.PacketsSent}, received {stats.PacketsReceived - statsAtStart.PacketsReceived}) = {perPacket:F1} B/packet; most bytes buffered unread: {incoming.MaxBufferedBytes}; gen0 collections so far: {GC.CollectionCount(0)}");

        // 56 MiB is ~50k data packets: enough for the ratio to mean something.
        Assert.True(packets > 20_000, $"too few packets measured ({packets})");
        Assert.True(perPacket < MaxBytesPerPacket, $"the process allocated {perPacket:F1} B per packet sent or received (bound {MaxBytesPerPacket})");

        // The receive pipe's blocks come back and are reused: a few dozen created (the working set) for thousands of
        // rents (72 MiB in 16 KiB blocks).
        var pool = pair.Server.StreamBuffers;
        output.WriteLine($"receiver's stream buffer pool: {pool.Rents} rents, {pool.Created} blocks created, {pool.Free} free; sender's: {pair.Client.StreamBuffers.Rents} rents, {pair.Client.StreamBuffers.Created} created");
        Assert.True(pool.Rents > 1000 && pool.Created * 20 < pool.Rents, $"the receiver's stream buffer pool created {pool.Created} blocks for {pool.Rents} rents");
    }
}
