using System.Diagnostics;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidTableConcurrencyTests
{
    private const int StableKeys = 1000;
    private const int ChurnKeys = 2000;

    [Fact]
    public void Readers_never_see_another_keys_route_and_always_find_stable_keys()
    {
        // Few buckets so chains are shared and writers keep recycling entries under readers' feet.
        var table = new CidTable(4096, null, bucketCount: 1024, seed: 99);
        var cids = Enumerable.Range(0, StableKeys + ChurnKeys).Select(i => Cid(i, i % 2 == 0 ? 8 : 12)).ToArray();
        var generations = new CidRoute[4][];
        for (var g = 0; g < generations.Length; g++)
        {
            generations[g] = cids.Select((_, i) => RouteFor(i, g)).ToArray();
        }

        for (var i = 0; i < cids.Length; i++)
        {
            table.Set(cids[i], generations[0][i]);
        }

        long wrongRoutes = 0, stableMisses = 0, lookups = 0, writes = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var random = new Random(r);
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                for (var k = 0; k < 1000; k++, n++)
                {
                    var key = random.Next(cids.Length);
                    if (table.TryGet(cids[key], 0, out var route))
                    {
                        if (!Encodes(route, key) || route.Endpoint.IsEmpty)
                        {
                            Interlocked.Increment(ref wrongRoutes);
                        }
                    }
                    else if (key < StableKeys)
                    {
                        Interlocked.Increment(ref stableMisses);
                    }
                }
            }

            Interlocked.Add(ref lookups, n);
        })).ToList();

        var writer = new Thread(() =>
        {
            var random = new Random(1234);
            long n = 0;
            while (!stop.IsCancellationRequested)
            {
                var key = StableKeys + random.Next(ChurnKeys);
                // Mostly in-place replaces (the seqlock's busiest case), some removes to recycle entries.
                switch (random.Next(4))
                {
                    case 0:
                        table.Remove(cids[key]);
                        break;
                    default:
                        table.Set(cids[key], generations[n & 3][key]);
                        break;
                }

                n++;
            }

            writes = n;
        });

        var clock = Stopwatch.StartNew();
        readers.ForEach(t => t.Start());
        writer.Start();
        readers.ForEach(t => t.Join());
        writer.Join();

        Assert.True(lookups > 10_000 && writes > 10_000, $"too little work to mean anything: {lookups} lookups, {writes} writes in {clock.Elapsed}");
        Assert.Equal(0, Interlocked.Read(ref wrongRoutes));
        Assert.Equal(0, Interlocked.Read(ref stableMisses));
        Assert.Equal(0, table.Evictions);
    }
}
