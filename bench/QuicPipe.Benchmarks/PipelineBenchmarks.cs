using BenchmarkDotNet.Attributes;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Relay;

namespace QuicPipe.Benchmarks;

/// <summary>
/// The relay's whole decision path, parse -&gt; CID lookup -&gt; forward verdict, over a synthetic
/// batch of 1200-byte packets with 100k routes; everything but the syscalls. Per packet.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Routes = 100_000;
    private PacketBatch _batch = null!;
    private PacketDelegate _pipeline = null!;

    [Params(64, 1024)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var table = BenchmarkData.FilledTable(Routes);
        _batch = new PacketBatch(BatchSize);
        var random = new Random(11);
        for (var i = 0; i < BatchSize; i++)
        {
            // One in 16 packets has an unknown CID: the drop path is part of the work.
            var index = i % 16 == 15 ? Routes + i : random.Next(Routes);
            _batch.Add(BenchmarkData.ShortPacket(index), BenchmarkData.Sender);
        }

        _pipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(BenchmarkData.CidLength)
            .UseRelayForwarding(table)
            .Build();
    }

    [Benchmark]
    public void ParseLookupForward()
    {
        // Receivers reset each slot they fill; do the same so every iteration decides afresh.
        for (var i = 0; i < _batch.Count; i++)
        {
            _batch.ResetSlot(i);
        }

        _pipeline(_batch);
    }

    /// <summary>BenchmarkDotNet reports per invocation; this converts to per packet in the summary.</summary>
    [GlobalCleanup]
    public void Check()
    {
        var forwarded = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            forwarded += _batch.Verdicts[i] == PacketVerdict.Forward ? 1 : 0;
        }

        if (forwarded != _batch.Count - (_batch.Count / 16))
        {
            throw new InvalidOperationException($"The pipeline forwarded {forwarded} of {_batch.Count} packets; the benchmark measured the wrong thing.");
        }
    }
}
