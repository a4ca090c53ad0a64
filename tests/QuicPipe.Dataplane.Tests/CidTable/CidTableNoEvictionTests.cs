using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

/// <summary><see cref="CidTable.TrySetWithoutEviction"/>: for owners that must hear of a full table, not lose a route.</summary>
public class CidTableNoEvictionTests
{
    [Fact]
    public void A_full_table_refuses_a_new_key_and_keeps_every_route()
    {
        var table = new CidTable(4);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(table.TrySetWithoutEviction(Cid(i), RouteFor(i)));
        }

        Assert.False(table.TrySetWithoutEviction(Cid(4), RouteFor(4)));

        Assert.Equal(4, table.Count);
        Assert.Equal(0, table.Evictions);
        Assert.False(table.TryGet(Cid(4), out _));
        Assert.All(Enumerable.Range(0, 4), i => Assert.True(table.TryGet(Cid(i), out var route) && Encodes(route, i)));
    }

    [Fact]
    public void A_full_table_still_replaces_an_existing_key()
    {
        var table = new CidTable(2);
        table.TrySetWithoutEviction(Cid(0), RouteFor(0));
        table.TrySetWithoutEviction(Cid(1), RouteFor(1));

        Assert.True(table.TrySetWithoutEviction(Cid(1), RouteFor(1, generation: 1)));

        Assert.True(table.TryGet(Cid(1), out var route));
        Assert.True(Encodes(route, 1));
        Assert.Equal(1, (int)(route.OwnerId >> 32));
        Assert.Equal(0, table.Evictions);
    }

    [Fact]
    public void A_removed_key_makes_room_again()
    {
        var table = new CidTable(1);
        table.TrySetWithoutEviction(Cid(0), RouteFor(0));
        Assert.False(table.TrySetWithoutEviction(Cid(1), RouteFor(1)));

        Assert.True(table.Remove(Cid(0)));

        Assert.True(table.TrySetWithoutEviction(Cid(1), RouteFor(1)));
    }

    [Fact]
    public void A_chain_at_its_cap_refuses_a_new_key_even_with_room_elsewhere()
    {
        // One bucket: every key shares one chain.
        var table = new CidTable(CidTable.MaxChainLength + 4, timeProvider: null, bucketCount: 1, seed: 1);
        for (var i = 0; i < CidTable.MaxChainLength; i++)
        {
            Assert.True(table.TrySetWithoutEviction(Cid(i), RouteFor(i)));
        }

        Assert.False(table.TrySetWithoutEviction(Cid(100), RouteFor(100)));
        Assert.Equal(0, table.Evictions);
    }
}
