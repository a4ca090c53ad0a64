using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

/// <summary>The owner-checked writes a registry uses so it never overwrites or removes another owner's route.</summary>
public class CidTableOwnershipTests
{
    private const ulong FlagBit = 1UL << 63;
    private const ulong OwnerMask = ~FlagBit;

    [Fact]
    public void TrySet_refuses_a_live_route_of_another_owner_and_leaves_it()
    {
        var table = new CidTable(16);
        var cid = Cid(1);
        table.Set(cid, new CidRoute(Endpoint(100), 0, long.MaxValue));

        Assert.False(table.TrySet(cid, new CidRoute(Endpoint(200), 7, long.MaxValue), OwnerMask));

        Assert.True(table.TryGet(cid, out var route));
        Assert.Equal(0UL, route.OwnerId);
        Assert.Equal(100, route.Endpoint.Port);
    }

    [Fact]
    public void TrySet_replaces_its_own_route_whatever_the_flag_bits()
    {
        var table = new CidTable(16);
        var cid = Cid(1);
        Assert.True(table.TrySet(cid, new CidRoute(Endpoint(100), 7 | FlagBit, long.MaxValue), OwnerMask));

        Assert.True(table.TrySet(cid, new CidRoute(Endpoint(200), 7, long.MaxValue), OwnerMask));

        Assert.True(table.TryGet(cid, out var route));
        Assert.Equal(7UL, route.OwnerId);
        Assert.Equal(200, route.Endpoint.Port);
    }

    [Fact]
    public void TrySet_takes_over_an_expired_route_of_another_owner()
    {
        var clock = new ManualTimeProvider();
        var table = new CidTable(16, clock);
        var cid = Cid(1);
        table.Set(cid, new CidRoute(Endpoint(100), 5, 10));
        clock.AdvanceMs(10);

        Assert.True(table.TrySet(cid, new CidRoute(Endpoint(200), 7, long.MaxValue), OwnerMask));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void RemoveIfOwnedBy_removes_only_the_owners_route()
    {
        var table = new CidTable(16);
        var mine = Cid(1);
        var theirs = Cid(2);
        table.Set(mine, new CidRoute(Endpoint(100), 7 | FlagBit, long.MaxValue));
        table.Set(theirs, new CidRoute(Endpoint(100), 0, long.MaxValue));

        Assert.False(table.RemoveIfOwnedBy(theirs, 7, OwnerMask));
        Assert.True(table.RemoveIfOwnedBy(mine, 7, OwnerMask));

        Assert.False(table.TryGet(mine, out _));
        Assert.True(table.TryGet(theirs, out _));
    }
}
