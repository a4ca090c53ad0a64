using System.Diagnostics;
using QuicPipe.Quic;

namespace QuicPipe.PeerBench;

/// <summary>What one bulk transfer measured at the receiver.</summary>
/// CPU seconds over the same span: the whole process's, and each node's loop threads' (in the pair's node order).
internal readonly record struct TransferResult(long Received, double Seconds, int Gen0, int Gen1, int Gen2, long AllocatedBytes, double ProcessCpuSeconds, double[] NodeLoopCpuSeconds);

/// <summary>
/// The bulk transfer itself, the same code for both modes: the sender writes N bytes from one reused buffer on one
/// stream and ends it; the receiver counts and discards them.
/// </summary>
internal static class Transfer
{
    public static async Task SendAsync(QuicConnection connection, long total, int chunk, CancellationToken cancellationToken)
    {
        var buffer = new byte[chunk];
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = (byte)(i * 7 + 0x5a);
        }

        var stream = await connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
        for (long sent = 0; sent < total;)
        {
            var n = (int)Math.Min(chunk, total - sent);
            sent += n;
            await stream.WriteAsync(buffer.AsMemory(0, n), endStream: sent == total, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Times from the first byte received to the end of the stream, so the dial (signalling, handshake) of the
    /// relayed mode does not count against it; GC counts are process-wide over the same span (sender included).
    /// </summary>
    public static async Task<TransferResult> ReceiveAsync(QuicConnection connection, IReadOnlyList<BenchNode> nodes, CancellationToken cancellationToken)
    {
        var stream = await connection.AcceptStreamAsync(cancellationToken).ConfigureAwait(false);
        var input = stream.Input;
        var first = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var gc0 = GC.CollectionCount(0);
        var gc1 = GC.CollectionCount(1);
        var gc2 = GC.CollectionCount(2);
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var processCpu = ThreadCpu.ProcessSeconds();
        var nodeCpu = nodes.Select(node => ThreadCpu.Seconds(node.LoopThreads)).ToArray();
        var received = first.Buffer.Length;
        input.AdvanceTo(first.Buffer.End);
        var done = first.IsCompleted;
        while (!done)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            received += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
            done = result.IsCompleted;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        processCpu = ThreadCpu.ProcessSeconds() - processCpu;
        for (var i = 0; i < nodes.Count; i++)
        {
            nodeCpu[i] = ThreadCpu.Seconds(nodes[i].LoopThreads) - nodeCpu[i];
        }

        return new TransferResult(
            received,
            seconds,
            GC.CollectionCount(0) - gc0,
            GC.CollectionCount(1) - gc1,
            GC.CollectionCount(2) - gc2,
            GC.GetTotalAllocatedBytes(precise: true) - allocated,
            processCpu,
            nodeCpu);
    }
}
