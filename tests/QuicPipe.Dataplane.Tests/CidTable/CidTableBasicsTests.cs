using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidTableBasicsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(20)]
    public void Set_TryGet_Remove_round_trip_for_each_cid_length(int length)
    {
        var table = new CidTable(16);
        var cid = Cid(7, length);

        table.Set(cid, RouteFor(7));

        Assert.Equal(1, table.Count);
        Assert.True(table.TryGet(cid, out var route));
        Assert.True(Encodes(route, 7));
        Assert.True(table.Remove(cid));
        Assert.False(table.TryGet(cid, out _));
        Assert.False(table.Remove(cid));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Same_bytes_with_different_lengths_are_different_keys()
    {
        var table = new CidTable(16);
        var zeros = new byte[ConnectionId.MaxLength];
        int[] lengths = [0, 8, 12, 20];
        foreach (var length in lengths)
        {
            table.Set(new ConnectionId(zeros.AsSpan(0, length)), RouteFor(length));
        }

        Assert.True(table.Remove(new ConnectionId(zeros.AsSpan(0, 12))));

        Assert.Equal(3, table.Count);
        Assert.False(table.TryGet(new ConnectionId(zeros.AsSpan(0, 12)), out _));
        foreach (var length in lengths.Where(l => l != 12))
        {
            Assert.True(table.TryGet(new ConnectionId(zeros.AsSpan(0, length)), out var route));
            Assert.True(Encodes(route, length));
        }
    }

    [Fact]
    public void Set_of_a_present_key_replaces_its_route()
    {
        var table = new CidTable(4);
        table.Set(Cid(1), RouteFor(1));

        table.Set(Cid(1), RouteFor(2, generation: 1));

        Assert.Equal(1, table.Count);
        Assert.True(table.TryGet(Cid(1), out var route));
        Assert.True(Encodes(route, 2));
        Assert.True(route.Endpoint.IsIPv6);
    }

    [Fact]
    public void Unknown_key_is_a_miss()
    {
        var table = new CidTable(4);
        table.Set(Cid(1), RouteFor(1));

        Assert.False(table.TryGet(Cid(2), out var route));
        Assert.Equal(default(CidRoute).OwnerId, route.OwnerId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Capacity_below_one_is_refused(int capacity)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CidTable(capacity));
    }

    [Fact]
    public void RemoveOwner_removes_only_that_owners_routes()
    {
        var table = new CidTable(16);
        for (var i = 0; i < 9; i++)
        {
            table.Set(Cid(i), new CidRoute(Endpoint(i), (ulong)(i % 3), long.MaxValue));
        }

        Assert.Equal(3, table.RemoveOwner(1));
        Assert.Equal(0, table.RemoveOwner(1));

        Assert.Equal(6, table.Count);
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(i % 3 != 1, table.TryGet(Cid(i), out _));
        }
    }

    [Fact]
    public void CopyTo_lists_the_entries_as_far_as_the_span_reaches()
    {
        var table = new CidTable(8);
        for (var i = 0; i < 5; i++)
        {
            table.Set(Cid(i), RouteFor(i));
        }

        table.Remove(Cid(2));
        var all = new (ConnectionId Cid, CidRoute Route)[8];
        var some = new (ConnectionId Cid, CidRoute Route)[2];

        var written = table.CopyTo(all);

        Assert.Equal(4, written);
        Assert.Equal([0, 1, 3, 4], all[..written].Select(e => (int)e.Route.OwnerId).Order());
        Assert.All(all[..written], e => Assert.Equal(Cid((int)e.Route.OwnerId), e.Cid));
        Assert.Equal(2, table.CopyTo(some));
    }
}
