using QuicPipe.Dataplane;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>
/// Peers of other relays of a fleet (docs/fleet.md): their CID windows routed to their relay, never published as
/// this relay's own, never taking over a peer registered here; and the identity observer the directory publishes from.
/// </summary>
public class CidRegistryRemoteTests
{
    private static readonly PeerAddress OtherRelay = Address(4433);

    [Fact]
    public void A_remote_window_routes_to_the_other_relay_and_slides_on_use_like_a_local_one()
    {
        var f = new RegistryFixture();
        var result = f.Registry.RegisterRemote(Node(1), OtherRelay, DerivedRequest(Key(1), 10, 4));
        Assert.True(result.IsOk, result.Message);
        for (uint counter = 10; counter < 14; counter++)
        {
            Assert.True(f.Routes(Derived(Key(1), counter), OtherRelay));
        }

        // Use of the upper half moves the window on, as it does at the relay the peer registered with.
        f.Registry.RouteUseSink.OnRouteUsed(Derived(Key(1), 13));
        Assert.Equal(1, f.Registry.ProcessRouteUses());
        Assert.True(f.Routes(Derived(Key(1), 17), OtherRelay));
    }

    [Fact]
    public void A_peer_registered_here_keeps_its_routes_against_a_remote_install()
    {
        var f = new RegistryFixture();
        var peer = Address(50_000);
        Assert.True(f.Registry.Register(Node(1), 1, peer, DerivedRequest(Key(1), 1, 4)).IsOk);

        var remote = f.Registry.RegisterRemote(Node(1), OtherRelay, DerivedRequest(Key(1), 1, 4));
        Assert.Equal(RegistryStatus.CidOwnedByOther, remote.Status);
        Assert.True(f.Routes(Derived(Key(1), 1), peer));
    }

    [Fact]
    public void A_peer_that_registers_here_after_a_remote_install_takes_its_routes_over()
    {
        var f = new RegistryFixture();
        var observer = new RecordingObserver();
        f.Registry.IdentityObserver = observer;
        Assert.True(f.Registry.RegisterRemote(Node(1), OtherRelay, DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.Empty(observer.Events);

        var peer = Address(50_000);
        Assert.True(f.Registry.Register(Node(1), 1, peer, DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.True(f.Routes(Derived(Key(1), 1), peer));
        Assert.Equal(["+" + Node(1)], observer.Events);
    }

    [Fact]
    public void Remote_identities_are_not_held_to_the_per_source_quotas_their_relays_address_would_fill()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxIdentitiesPerAddress = 2 });
        for (var i = 0; i < 10; i++)
        {
            Assert.True(f.Registry.RegisterRemote(Node(i), OtherRelay, DerivedRequest(Key(i), 1, 2)).IsOk);
        }

        Assert.Equal(10, f.Registry.Snapshot().Identities);
        Assert.Empty(f.Registry.LocalIdentities());
    }

    [Fact]
    public void The_observer_hears_a_local_identity_come_and_go_by_unregister_and_by_expiry()
    {
        var f = new RegistryFixture();
        var observer = new RecordingObserver();
        f.Registry.IdentityObserver = observer;
        Assert.True(f.Registry.Register(Node(1), 1, Address(50_000), DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.True(f.Registry.Register(Node(2), 2, Address(50_001), DerivedRequest(Key(2), 1, 4, TimeSpan.FromSeconds(5))).IsOk);
        Assert.True(f.Registry.Register(Node(1), 1, Address(50_000), DerivedRequest(Key(3), 1, 4)).IsOk);
        f.Registry.Unregister(Node(1), [], all: true);
        f.Clock.AdvanceMs(5_000);
        f.Registry.Sweep(f.Table.NowMs);

        Assert.Equal(["+" + Node(1), "+" + Node(2), "-" + Node(1), "-" + Node(2)], observer.Events);
    }

    [Fact]
    public void Registrations_of_a_local_peer_are_what_another_relay_needs_to_route_it_and_a_remote_one_has_none()
    {
        var f = new RegistryFixture();
        Assert.True(f.Registry.Register(Node(1), 1, Address(50_000), DerivedRequest(Key(1), 7, 4)).IsOk);
        Assert.True(f.Registry.Register(Node(1), 1, Address(50_000), ExplicitRequest([Cid(1)])).IsOk);
        Assert.True(f.Registry.RegisterRemote(Node(2), OtherRelay, DerivedRequest(Key(2), 1, 4)).IsOk);

        var registrations = f.Registry.RegistrationsOf(Node(1));
        Assert.Equal(2, registrations.Count);
        var derived = Assert.Single(registrations, r => !r.CidKey.IsEmpty);
        Assert.Equal(Key(1), derived.CidKey.ToArray());
        Assert.Equal(7u, derived.FirstCounter);
        Assert.Equal(4, derived.Window);
        Assert.Equal([Cid(1)], Assert.Single(registrations, r => r.CidKey.IsEmpty).Cids);
        Assert.Empty(f.Registry.RegistrationsOf(Node(2)));

        // Installed at another relay, they route the same CIDs there.
        var other = new RegistryFixture();
        foreach (var registration in registrations)
        {
            Assert.True(other.Registry.RegisterRemote(Node(1), OtherRelay, registration).IsOk);
        }

        Assert.Equal(f.Registry.CidsOf(Node(1)).ToHashSet(), other.Registry.CidsOf(Node(1)).ToHashSet());
    }

    [Fact]
    public void A_slid_window_wider_than_a_request_may_be_is_handed_on_by_its_upper_counters()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxWindow = 8, MaxCidsPerIdentity = 64 });
        Assert.True(f.Registry.Register(Node(1), 1, Address(50_000), DerivedRequest(Key(1), 1, 8)).IsOk);
        f.Registry.RouteUseSink.OnRouteUsed(Derived(Key(1), 8));
        Assert.Equal(1, f.Registry.ProcessRouteUses());

        // Counters 1..16 are routed now (the window moved 8 past counter 8): the other relay gets 9..16.
        var derived = Assert.Single(f.Registry.RegistrationsOf(Node(1)));
        Assert.Equal(9u, derived.FirstCounter);
        Assert.Equal(8, derived.Window);
    }

    private sealed class RecordingObserver : ILocalIdentityObserver
    {
        public List<string> Events { get; } = [];

        public void OnLocalIdentityAdded(NodeId node) => Events.Add("+" + node);

        public void OnLocalIdentityRemoved(NodeId node) => Events.Add("-" + node);
    }
}
