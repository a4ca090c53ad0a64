using System.Globalization;
using QuicPipe.PeerBench;

// Bulk QUIC transfer A -> B in one process, either through a quicpipe relay (two PeerEndpoints, A dials B by
// NodeId) or directly between two plain QuicEndpoints on loopback (perf/relay-e2e.sh runs both and compares), or
// through a circuit A-B-C-D of mesh nodes, all four on the relay (perf/circuit-vs-relay.sh compares it with relayed).
// Prints one JSON line; exit 1 if the byte count is wrong or the transfer fails.
if (args is ["-h" or "--help"])
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

if (BenchOptions.Parse(args) is not { } options)
{
    return 2;
}

using var timeout = new CancellationTokenSource(options.Timeout);
await using var pair = options.Mode switch
{
    "relayed" => await ConnectedPair.RelayedAsync(options.Relay!, options.RelayId!.Value, timeout.Token),
    "circuit" => await ConnectedPair.CircuitAsync(options.Relay!, options.RelayId!.Value, direct: false, encryptedHops: false, timeout.Token),
    "circuit-direct" => await ConnectedPair.CircuitAsync(options.Relay!, options.RelayId!.Value, direct: true, encryptedHops: false, timeout.Token),
    "circuit-encrypted" => await ConnectedPair.CircuitAsync(options.Relay!, options.RelayId!.Value, direct: false, encryptedHops: true, timeout.Token),
    _ => await ConnectedPair.DirectAsync(timeout.Token),
};

// Unmeasured: the code of the hot path reaches its optimized tier during this, not during the measured transfer.
if (options.Warmup > 0)
{
    var warming = Transfer.ReceiveAsync(pair.B, pair.Nodes, timeout.Token);
    await Transfer.SendAsync(pair.A, options.Warmup, options.Chunk, timeout.Token);
    await warming;
}

var receiving = Transfer.ReceiveAsync(pair.B, pair.Nodes, timeout.Token);
await Transfer.SendAsync(pair.A, options.Bytes, options.Chunk, timeout.Token);
var result = await receiving;
var stats = await pair.A.GetStatsAsync(timeout.Token);
await pair.A.CloseAsync(0, "done", timeout.Token);

var ok = result.Received == options.Bytes;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"mode\":\"{options.Mode}\",\"ok\":{(ok ? "true" : "false")},\"bytes\":{result.Received},\"expected\":{options.Bytes}," +
    $"\"seconds\":{result.Seconds:F3},\"mb_per_s\":{result.Received / 1e6 / result.Seconds:F1}," +
    $"\"gc_gen0\":{result.Gen0},\"gc_gen1\":{result.Gen1},\"gc_gen2\":{result.Gen2},\"allocated_bytes\":{result.AllocatedBytes}," +
    $"\"process_cpu_s\":{result.ProcessCpuSeconds:F3},\"node_loop_cpu_s\":{{{string.Join(",", pair.Nodes.Select((node, i) => $"\"{node.Name}\":{result.NodeLoopCpuSeconds[i].ToString("F3", CultureInfo.InvariantCulture)}"))}}}," +
    $"\"sender_packets_sent\":{stats.PacketsSent},\"sender_packets_lost\":{stats.PacketsLost},\"min_rtt_us\":{stats.MinRtt.TotalMicroseconds:F0},\"smoothed_rtt_us\":{stats.SmoothedRtt.TotalMicroseconds:F0},\"sender_cwnd\":{stats.CongestionWindow}}}"));
if (!ok)
{
    Console.Error.WriteLine($"byte count mismatch: received {result.Received}, expected {options.Bytes}");
}

return ok ? 0 : 1;
