using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests;

public class CidTableCollisionTests
{
    [Fact]
    public void Crowded_chains_agree_with_a_dictionary_through_random_operations()
    {
        // 1000 keys over 256 buckets: every lookup walks a chain of about four.
        var table = new CidTable(1024, null, bucketCount: 256, seed: 12345);
        var model = new Dictionary<int, int>();
        var random = new Random(7);
        for (var step = 0; step < 200_000; step++)
        {
            var key = random.Next(1000);
            var length = key % 3 == 0 ? 8 : 20;
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    var value = random.Next(60_000);
                    table.Set(Cid(key, length), RouteFor(value));
                    model[key] = value;
                    break;
                case 2:
                    Assert.Equal(model.Remove(key), table.Remove(Cid(key, length)));
                    break;
                default:
                    var found = table.TryGet(Cid(key, length), out var route);
                    Assert.Equal(model.TryGetValue(key, out var expected), found);
                    if (found)
                    {
                        Assert.True(Encodes(route, expected));
                    }

                    break;
            }
        }

        Assert.Equal(model.Count, table.Count);
        Assert.Equal(0, table.Evictions);
        foreach (var (key, value) in model)
        {
            Assert.True(table.TryGet(Cid(key, key % 3 == 0 ? 8 : 20), out var route));
            Assert.True(Encodes(route, value));
        }
    }

    [Fact]
    public void A_million_keys_at_full_capacity_are_all_found()
    {
        const int n = 1 << 20;
        var table = new CidTable(n);
        var route = RouteFor(1);
        for (var i = 0; i < n; i++)
        {
            table.Set(Cid(i), route);
        }

        var missing = 0;
        for (var i = 0; i < n; i++)
        {
            missing += table.TryGet(Cid(i), out _) ? 0 : 1;
        }

        Assert.Equal(0, missing);
        Assert.Equal(0, table.Evictions);
        Assert.False(table.TryGet(Cid(n), out _));
    }
}
