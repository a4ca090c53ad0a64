using BenchmarkDotNet.Attributes;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Benchmarks;

/// <summary>
/// QuicEndpoint's receive path up to the connection, per packet: parse, then find the connection of each DCID.
/// Baseline is what the endpoint did before (a Dictionary from CID to connection, looked up in the terminal step);
/// against it the dataplane's CID lookup stage over a CidTable of local routes, whose terminal only indexes a slot
/// array. 64-packet batches of 1200-byte short headers, 1 in 16 for an unknown CID (the hook's path).
/// </summary>
[MemoryDiagnoser]
public class EndpointDemuxBenchmarks
{
    private const int BatchSize = 64;
    private PacketBatch _batch = null!;
    private PacketDelegate _dictionaryPipeline = null!;
    private PacketDelegate _stagePipeline = null!;
    private Dictionary<ConnectionId, object> _routes = null!;
    private object?[] _slots = null!;
    private int _found;

    /// <summary>Registered CIDs (connections times their CIDs).</summary>
    [Params(1_000, 100_000)]
    public int Cids { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // As the endpoint sizes it: room for every CID, so the table is at most half full.
        var table = new CidTable(Cids * 2);
        _routes = new Dictionary<ConnectionId, object>(Cids);
        _slots = new object?[Cids];
        for (var i = 0; i < Cids; i++)
        {
            // Each slot's "connection": any object; the endpoint's real one is a QuicConnection reference too.
            var connection = new object();
            _slots[i] = connection;
            _routes[BenchmarkData.Cid(i)] = connection;
            table.Set(BenchmarkData.Cid(i), CidRoute.Local(i, ownerId: (ulong)i + 1, long.MaxValue));
        }

        _batch = new PacketBatch(BatchSize);
        var random = new Random(13);
        for (var i = 0; i < BatchSize; i++)
        {
            var index = i % 16 == 15 ? Cids + i : random.Next(Cids);
            _batch.Add(BenchmarkData.ShortPacket(index), BenchmarkData.Sender);
        }

        _dictionaryPipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(BenchmarkData.CidLength)
            .Run(RouteByDictionary)
            .Build();
        _stagePipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(BenchmarkData.CidLength)
            .UseLocalCidLookup(table)
            .Run(RouteBySlot)
            .Build();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchSize)]
    public int DictionaryLookup()
    {
        Reset();
        _dictionaryPipeline(_batch);
        return _found;
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int LocalCidLookupStage()
    {
        Reset();
        _stagePipeline(_batch);
        return _found;
    }

    [GlobalCleanup]
    public void Check()
    {
        // 60 of the 64 packets belong to a connection, whichever way they were routed.
        if (_found != BatchSize - (BatchSize / 16))
        {
            throw new InvalidOperationException($"Routed {_found} packets, expected {BatchSize - (BatchSize / 16)}.");
        }
    }

    private void Reset()
    {
        _found = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            _batch.ResetSlot(i);
        }
    }

    /// <summary>The endpoint's old terminal: a Dictionary lookup per parsed packet.</summary>
    private void RouteByDictionary(PacketBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] == PacketVerdict.Pending && _routes.TryGetValue(batch.Headers[i].Dcid, out _))
            {
                _found++;
            }
        }
    }

    /// <summary>The endpoint's terminal now: the stage already found the slot.</summary>
    private void RouteBySlot(PacketBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] == PacketVerdict.Local && _slots[batch.LocalSlots[i]] is not null)
            {
                _found++;
            }
        }
    }
}
