using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidRouteTests
{
    [Fact]
    public void A_local_route_names_its_slot_and_keeps_owner_and_expiry()
    {
        var route = CidRoute.Local(5, ownerId: 9, expiresAtMs: 1234);

        Assert.True(route.IsLocal);
        Assert.Equal(5, route.LocalSlot);
        Assert.Equal(9UL, route.OwnerId);
        Assert.Equal(1234, route.ExpiresAtMs);
        Assert.True(CidRoute.Local(0, 1, long.MaxValue).IsLocal);
    }

    [Fact]
    public void Forwarding_routes_and_the_default_route_are_not_local()
    {
        Assert.False(RouteFor(3).IsLocal);
        Assert.Equal(-1, RouteFor(3).LocalSlot);
        Assert.False(default(CidRoute).IsLocal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void A_slot_that_cannot_be_stored_is_refused(int slot)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CidRoute.Local(slot, 1, long.MaxValue));
    }

    [Fact]
    public void The_table_keeps_a_local_route_intact()
    {
        var table = new CidTable(4);
        table.Set(Cid(1), CidRoute.Local(77, ownerId: 3, long.MaxValue));

        Assert.True(table.TryGet(Cid(1), out var route));
        Assert.True(route.IsLocal);
        Assert.Equal(77, route.LocalSlot);
        Assert.True(table.RemoveIfOwnedBy(Cid(1), 3, ulong.MaxValue));
    }
}
