using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidTableExpiryTests
{
    [Fact]
    public void NowMs_converts_the_providers_timestamp_without_overflow()
    {
        // 200 days of nanoseconds: timestamp * 1000 would overflow a long.
        const long start = 200L * 24 * 3600 * 1_000_000_000 + 1_500_000;
        var time = new ManualTimeProvider(start);
        var table = new CidTable(1, time);

        Assert.Equal(200L * 24 * 3600 * 1000 + 1, table.NowMs);
        time.AdvanceMs(250);
        Assert.Equal(200L * 24 * 3600 * 1000 + 251, table.NowMs);
    }

    [Fact]
    public void An_expired_route_is_a_miss()
    {
        var time = new ManualTimeProvider();
        var table = new CidTable(4, time);
        var now = table.NowMs;
        table.Set(Cid(1), new CidRoute(Endpoint(1), 1, now + 50));

        Assert.True(table.TryGet(Cid(1), now + 49, out _));
        Assert.False(table.TryGet(Cid(1), now + 50, out _));
        Assert.True(table.TryGet(Cid(1), out _));
        time.AdvanceMs(50);
        Assert.False(table.TryGet(Cid(1), out _));

        // A miss, but still stored until swept or reused.
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void RemoveExpired_sweeps_only_expired_routes()
    {
        var table = new CidTable(8, new ManualTimeProvider());
        table.Set(Cid(1), new CidRoute(Endpoint(1), 1, 10));
        table.Set(Cid(2), new CidRoute(Endpoint(2), 1, 20));
        table.Set(Cid(3), new CidRoute(Endpoint(3), 1, 30));
        table.Set(Cid(4), new CidRoute(Endpoint(4), 0, long.MaxValue));

        Assert.Equal(0, table.RemoveExpired(9));
        Assert.Equal(2, table.RemoveExpired(20));
        Assert.Equal(2, table.Count);
        Assert.True(table.TryGet(Cid(3), 25, out _));
        Assert.Equal(1, table.RemoveExpired(long.MaxValue - 1));
        Assert.True(table.TryGet(Cid(4), long.MaxValue - 1, out _));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void A_key_set_again_after_expiring_is_live_again()
    {
        var table = new CidTable(4, new ManualTimeProvider());
        table.Set(Cid(1), new CidRoute(Endpoint(1), 1, 10));
        table.Set(Cid(1), new CidRoute(Endpoint(1), 1, 100));

        Assert.True(table.TryGet(Cid(1), 50, out _));
    }
}
