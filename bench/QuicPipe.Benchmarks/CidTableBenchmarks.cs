using BenchmarkDotNet.Attributes;
using QuicPipe.Dataplane;

namespace QuicPipe.Benchmarks;

/// <summary>Lookups (hit and miss) and updates on a table holding 100k routes, as in perf/'s relay run.</summary>
[MemoryDiagnoser]
public class CidTableBenchmarks
{
    private const int Routes = 100_000;
    private const int Keys = 1024;
    private readonly ConnectionId[] _hits = new ConnectionId[Keys];
    private readonly ConnectionId[] _misses = new ConnectionId[Keys];

    // Built once: making an address allocates (IPEndPoint), and the table's own cost is what is measured.
    private readonly CidRoute[] _routes = new CidRoute[Keys];
    private CidTable _table = null!;
    private long _now;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _table = BenchmarkData.FilledTable(Routes);
        var random = new Random(7);
        for (var i = 0; i < Keys; i++)
        {
            _hits[i] = BenchmarkData.Cid(random.Next(Routes));
            _misses[i] = BenchmarkData.Cid(Routes + random.Next(Routes));
            _routes[i] = new CidRoute(BenchmarkData.Endpoint(i), 2, long.MaxValue);
        }

        _now = _table.NowMs;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Keys)]
    public int LookupHit()
    {
        var found = 0;
        for (var i = 0; i < Keys; i++)
        {
            found += _table.TryGet(_hits[i], _now, out _) ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Keys)]
    public int LookupMiss()
    {
        var found = 0;
        for (var i = 0; i < Keys; i++)
        {
            found += _table.TryGet(_misses[i], _now, out _) ? 1 : 0;
        }

        return found;
    }

    /// <summary>Replaces an existing route: what a re-registration or a route reload does.</summary>
    [Benchmark(OperationsPerInvoke = Keys)]
    public void Replace()
    {
        for (var i = 0; i < Keys; i++)
        {
            _table.Set(_hits[i], _routes[i]);
        }
    }

    /// <summary>Inserts a new route and removes it again, so the table's size stays put.</summary>
    [Benchmark(OperationsPerInvoke = Keys)]
    public void InsertRemove()
    {
        for (var i = 0; i < Keys; i++)
        {
            var cid = _misses[(_next + i) % Keys];
            _table.Set(cid, _routes[i]);
            _table.Remove(cid);
        }

        _next++;
    }
}
