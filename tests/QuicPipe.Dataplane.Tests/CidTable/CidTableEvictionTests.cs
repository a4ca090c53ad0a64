using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

/// <summary>
/// CLOCK behaviour. These tests know that an empty table hands out entries in insertion order and
/// that the hand starts at the first entry, so key i sits where the hand meets it i-th.
/// </summary>
public class CidTableEvictionTests
{
    [Fact]
    public void A_full_table_keeps_its_capacity_and_counts_evictions()
    {
        var table = new CidTable(8);
        for (var i = 0; i < 8; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        Assert.Equal(0, table.Evictions);

        for (var i = 8; i < 20; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        Assert.Equal(8, table.Capacity);
        Assert.Equal(8, table.Count);
        Assert.Equal(12, table.Evictions);
        Assert.Equal(8, Enumerable.Range(0, 20).Count(i => table.TryGet(Cid(i), out _)));
        Assert.True(table.TryGet(Cid(19), out var newest));
        Assert.True(Encodes(newest, 19));
    }

    [Fact]
    public void Replacing_in_a_full_table_evicts_nothing()
    {
        var table = new CidTable(2);
        table.Set(Cid(0), RouteFor(0));
        table.Set(Cid(1), RouteFor(1));

        table.Set(Cid(0), RouteFor(5));

        Assert.Equal(0, table.Evictions);
        Assert.True(table.TryGet(Cid(1), out _));
    }

    [Fact]
    public void Clock_keeps_recently_read_entries_over_untouched_ones()
    {
        var table = new CidTable(8);
        for (var i = 0; i < 8; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        // New entries start referenced, so this insert sweeps a whole lap (clearing every bit) and takes key 0.
        table.Set(Cid(100), RouteFor(100));
        Assert.False(table.TryGet(Cid(0), out _));

        // Keys 1-3 are next under the hand, but they are read now; keys 4-7 are not.
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(table.TryGet(Cid(i), out _));
        }

        for (var i = 101; i <= 104; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        for (var i = 1; i <= 3; i++)
        {
            Assert.True(table.TryGet(Cid(i), out _), $"read key {i} was evicted");
        }

        for (var i = 4; i <= 7; i++)
        {
            Assert.False(table.TryGet(Cid(i), out _), $"unread key {i} survived");
        }

        Assert.Equal(5, table.Evictions);
    }

    [Fact]
    public void An_expired_entry_is_reused_before_a_live_one_is_evicted()
    {
        var time = new ManualTimeProvider();
        var table = new CidTable(8, time);
        var now = table.NowMs;
        for (var i = 0; i < 8; i++)
        {
            table.Set(Cid(i), new CidRoute(Endpoint(i), 1, i == 5 ? now + 100 : long.MaxValue));
        }

        time.AdvanceMs(100);
        table.Set(Cid(8), RouteFor(8));

        Assert.False(table.TryGet(Cid(5), out _));
        for (var i = 0; i <= 8; i++)
        {
            Assert.Equal(i != 5, table.TryGet(Cid(i), out _));
        }

        // Reusing a dead entry loses no live route, so it is not an eviction.
        Assert.Equal(0, table.Evictions);
        Assert.Equal(8, table.Count);
    }

    [Fact]
    public void A_chain_at_its_cap_evicts_within_the_chain()
    {
        // One bucket: every key collides, as if an attacker knew the seed.
        var table = new CidTable(64, null, bucketCount: 1, seed: 42);
        for (var i = 0; i < 40; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        Assert.Equal(CidTable.MaxChainLength, table.Count);
        Assert.Equal(40 - CidTable.MaxChainLength, table.Evictions);
        Assert.True(table.TryGet(Cid(39), out var newest));
        Assert.True(Encodes(newest, 39));
        for (var i = 0; i < 40; i++)
        {
            if (table.TryGet(Cid(i), out var route))
            {
                Assert.True(Encodes(route, i));
            }
        }
    }
}
