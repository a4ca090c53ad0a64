using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>Runs alone: GC.GetTotalMemory sees the whole process, and a test allocating beside it would count.</summary>
[CollectionDefinition(nameof(CidRegistryFloodTests), DisableParallelization = true)]
[Collection(nameof(CidRegistryFloodTests))]
public class CidRegistryFloodTests
{
    [Fact]
    public void A_flood_of_registrations_from_many_identities_stays_within_every_bound()
    {
        // Every attempt comes from one loopback address: the per-source quotas (CidRegistrySourceQuotaTests) are
        // opened wide so that the registry's own bounds are what this flood meets.
        var options = new RegistryOptions
        {
            MaxIdentities = 1000,
            MaxCidsPerIdentity = 16,
            MaxIdentitiesPerAddress = int.MaxValue,
            MaxIdentitiesPerPrefix = int.MaxValue,
            MaxCidsPerAddress = int.MaxValue,
            MaxCidsPerPrefix = int.MaxValue,
        };
        var f = new RegistryFixture(options, tableCapacity: 1 << 16);
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var accepted = 0;
        for (var i = 0; i < 200_000; i++)
        {
            // Each attempt a new identity and a new key: the worst case for the registry's bookkeeping.
            var result = f.Registry.Register(Node(i), i, Address(1024 + (i % 60000)), DerivedRequest(Key(i), 1, 8));
            if (result.IsOk)
            {
                accepted++;
            }
            else
            {
                Assert.Equal(RegistryStatus.QuotaExceeded, result.Status);
            }
        }

        var counts = f.Registry.Snapshot();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(1000, accepted);
        Assert.Equal(1000, counts.Identities);
        Assert.Equal(1000, counts.Registrations);
        Assert.Equal(8000, counts.Cids);
        Assert.Equal(8000, f.Table.Count);

        // 8000 CIDs and 1000 identities: a few MB at most, whatever the 199 000 refused attempts did.
        Assert.True(after - before < 16 * 1024 * 1024, $"the registry grew by {after - before} bytes");
    }
}
