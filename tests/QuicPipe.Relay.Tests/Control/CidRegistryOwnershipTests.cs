using QuicPipe.Dataplane;
using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

public class CidRegistryOwnershipTests
{
    [Fact]
    public void Registering_a_derived_window_routes_exactly_its_CIDs_to_the_address()
    {
        var f = new RegistryFixture();
        var key = Key(1);

        var result = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 10, 8));

        Assert.True(result.IsOk, result.Message);
        Assert.Equal(8, result.CidCount);
        Assert.Equal(8, f.Table.Count);
        for (uint c = 10; c < 18; c++)
        {
            Assert.True(f.Routes(Derived(key, c), Address(5000)), $"counter {c}");
        }

        Assert.False(f.Routes(Derived(key, 9)));
        Assert.False(f.Routes(Derived(key, 18)));
        Assert.Equal(1, f.Registry.Snapshot().Identities);
    }

    [Fact]
    public void Another_identity_registering_the_same_key_is_refused_and_changes_nothing()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 8));

        var result = f.Registry.Register(Node(2), 2, Address(6000), DerivedRequest(key, 5, 8));

        Assert.Equal(RegistryStatus.CidOwnedByOther, result.Status);
        Assert.Equal(8, f.Table.Count);
        for (uint c = 1; c < 9; c++)
        {
            Assert.True(f.Routes(Derived(key, c), Address(5000)));
        }

        Assert.Empty(f.Registry.CidsOf(Node(2)));
    }

    [Fact]
    public void A_request_with_one_foreign_CID_applies_none_of_its_CIDs()
    {
        var f = new RegistryFixture();
        f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(3)]));

        var result = f.Registry.Register(Node(2), 2, Address(6000), ExplicitRequest([Cid(1), Cid(2), Cid(3), Cid(4)]));

        Assert.Equal(RegistryStatus.CidOwnedByOther, result.Status);
        Assert.Contains(Cid(3).ToString(), result.Message, StringComparison.Ordinal);
        Assert.False(f.Routes(Cid(1)));
        Assert.False(f.Routes(Cid(2)));
        Assert.False(f.Routes(Cid(4)));
        Assert.True(f.Routes(Cid(3), Address(5000)));
    }

    [Fact]
    public void A_static_route_is_never_taken_over()
    {
        var f = new RegistryFixture();
        f.Table.Set(Cid(7), new CidRoute(Address(9999), 0, long.MaxValue));

        var result = f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(6), Cid(7)]));

        Assert.Equal(RegistryStatus.CidOwnedByOther, result.Status);
        Assert.True(f.Table.TryGet(Cid(7), out var route));
        Assert.Equal(0UL, route.OwnerId);
        Assert.Equal(Address(9999), route.Endpoint);
        Assert.False(f.Routes(Cid(6)));
    }

    [Fact]
    public void Relay_namespace_and_wrong_length_CIDs_are_bad_requests()
    {
        var f = new RegistryFixture();
        var relayCid = CidDerivation.Derive(Key(1), 1, 12, CidNamespace.Relay);

        var relay = f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1), relayCid]));
        var shortCid = f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1), new ConnectionId(new byte[8])]));
        var badKey = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(new byte[8], 1, 4));
        var badWindow = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 0));

        Assert.Equal(RegistryStatus.BadRequest, relay.Status);
        Assert.Equal(RegistryStatus.BadRequest, shortCid.Status);
        Assert.Equal(RegistryStatus.BadRequest, badKey.Status);
        Assert.Equal(RegistryStatus.BadRequest, badWindow.Status);
        Assert.Equal(0, f.Table.Count);
        Assert.Equal(0, f.Registry.Snapshot().Identities);
    }

    [Fact]
    public void Re_registering_from_a_new_address_moves_every_route_of_the_identity()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 4));
        f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1)]));

        var result = f.Registry.Register(Node(1), 2, Address(7000), DerivedRequest(key, 1, 4));

        Assert.True(result.IsOk, result.Message);
        Assert.Equal(5, result.CidCount);
        Assert.True(f.Routes(Cid(1), Address(7000)));
        for (uint c = 1; c < 5; c++)
        {
            Assert.True(f.Routes(Derived(key, c), Address(7000)));
        }
    }

    [Fact]
    public void Re_registering_a_key_replaces_its_window()
    {
        var f = new RegistryFixture();
        var key = Key(1);
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 4));

        var result = f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 3, 4));

        Assert.Equal(4, result.CidCount);
        Assert.False(f.Routes(Derived(key, 1)));
        Assert.False(f.Routes(Derived(key, 2)));
        Assert.True(f.Routes(Derived(key, 6)));
        Assert.Equal(4, f.Table.Count);
    }

    [Fact]
    public void Unregister_removes_only_the_callers_CIDs()
    {
        var f = new RegistryFixture();
        f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1), Cid(2)]));
        f.Registry.Register(Node(2), 2, Address(6000), ExplicitRequest([Cid(3)]));

        Assert.Equal(1, f.Registry.Unregister(Node(1), [Cid(1), Cid(3)], all: false));
        Assert.False(f.Routes(Cid(1)));
        Assert.True(f.Routes(Cid(2)));
        Assert.True(f.Routes(Cid(3)));

        Assert.Equal(1, f.Registry.Unregister(Node(1), [], all: true));
        Assert.False(f.Routes(Cid(2)));
        Assert.Equal(1, f.Registry.Snapshot().Identities);
    }

    [Fact]
    public void A_route_the_registry_lost_to_a_static_route_is_not_removed_with_its_registration()
    {
        var f = new RegistryFixture();
        f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1)]));

        // A routes-file reload (RelayServer) takes the CID over: static routes win.
        f.Table.Set(Cid(1), new CidRoute(Address(9999), 0, long.MaxValue));
        f.Registry.Unregister(Node(1), [], all: true);

        Assert.True(f.Routes(Cid(1), Address(9999)));
    }
}
