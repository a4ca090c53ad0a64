using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

public class CidRegistryQuotaTests
{
    [Fact]
    public void An_identity_cannot_route_more_than_its_CID_quota()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxCidsPerIdentity = 10 });
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 8)).IsOk);

        var result = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(2), 1, 8));

        Assert.Equal(RegistryStatus.QuotaExceeded, result.Status);
        Assert.Equal(8, f.Table.Count);
        Assert.False(f.Routes(Derived(Key(2), 1)));
    }

    [Fact]
    public void An_identity_cannot_hold_more_than_its_registrations()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxRegistrationsPerIdentity = 2 });
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 2)).IsOk);
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(2), 1, 2)).IsOk);

        Assert.Equal(RegistryStatus.QuotaExceeded, f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(3), 1, 2)).Status);

        // Re-registering a key it holds is not a new registration.
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(2), 5, 2)).IsOk);
    }

    [Fact]
    public void The_number_of_identities_is_bounded()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxIdentities = 2 });
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1)])).IsOk);
        Assert.True(f.Registry.Register(Node(2), 2, Address(5001), ExplicitRequest([Cid(2)])).IsOk);

        var third = f.Registry.Register(Node(3), 3, Address(5002), ExplicitRequest([Cid(3)]));

        Assert.Equal(RegistryStatus.QuotaExceeded, third.Status);
        Assert.False(f.Routes(Cid(3)));

        // Existing identities still register more.
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(4)])).IsOk);
    }

    [Fact]
    public void A_full_table_refuses_instead_of_evicting_other_routes()
    {
        var f = new RegistryFixture(tableCapacity: 10);
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 8)).IsOk);

        var result = f.Registry.Register(Node(2), 2, Address(6000), DerivedRequest(Key(2), 1, 8));

        Assert.Equal(RegistryStatus.QuotaExceeded, result.Status);
        Assert.Equal(0, f.Table.Evictions);
        for (uint c = 1; c < 9; c++)
        {
            Assert.True(f.Routes(Derived(Key(1), c), Address(5000)));
        }
    }

    [Fact]
    public void A_window_above_the_maximum_is_a_bad_request()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxWindow = 16 });

        Assert.Equal(RegistryStatus.BadRequest, f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 17)).Status);
        Assert.True(f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 16)).IsOk);
    }

    [Fact]
    public void A_lifetime_above_the_maximum_is_cut_to_it()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxLifetime = TimeSpan.FromMinutes(10) });

        var result = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 2, TimeSpan.FromHours(5)));

        Assert.Equal(TimeSpan.FromMinutes(10), result.ExpiresIn);
    }
}
