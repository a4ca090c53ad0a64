using System.Runtime.CompilerServices;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidTableAllocationTests
{
    [Fact]
    public void A_million_operations_allocate_nothing()
    {
        // Four times more keys than entries, so inserts also run the eviction path.
        var table = new CidTable(1024);
        var cids = Enumerable.Range(0, 4096).Select(i => Cid(i, 8 + (i % 13))).ToArray();
        var routes = Enumerable.Range(0, 4096).Select(i => RouteFor(i)).ToArray();
        long hits = 0;
        Assert.Equal(0, SteadyStateAllocation.Measure(() => hits = Run(table, cids, routes, 1_000_000)));
        Assert.True(hits > 0);
        Assert.True(table.Evictions > 0);
    }

    [Fact]
    public void An_entry_takes_88_bytes_and_a_bucket_8()
    {
        // The memory budget quoted for the table (about 100 bytes per route, buckets included) rests on these.
        Assert.Equal(48, Unsafe.SizeOf<CidRoute>());
        Assert.Equal(88, Unsafe.SizeOf<CidEntry>());
        Assert.Equal(8, Unsafe.SizeOf<CidBucket>());
    }

    private static long Run(CidTable table, ConnectionId[] cids, CidRoute[] routes, int operations)
    {
        long hits = 0;
        var lastSet = 0;
        var now = table.NowMs;
        for (var i = 0; i < operations; i++)
        {
            // High bits of a multiplicative hash: a key is not tied to one kind of operation.
            var key = (int)(((uint)(i * 2654435761u) >> 20) % (uint)cids.Length);
            switch (i % 8)
            {
                case < 4:
                    table.Set(cids[key], routes[key]);
                    lastSet = key;
                    break;
                case < 7:
                    // Half the lookups for the key just set (hits), half for a scattered one (mostly misses).
                    hits += table.TryGet(cids[i % 2 == 0 ? lastSet : key], now, out _) ? 1 : 0;
                    break;
                default:
                    table.Remove(cids[key]);
                    break;
            }
        }

        return hits;
    }
}
