using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

public class CidRegistryLifetimeTests
{
    [Fact]
    public void A_registration_expires_in_the_table_at_once_and_from_the_registry_at_the_next_sweep()
    {
        var f = new RegistryFixture();
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 4, TimeSpan.FromSeconds(5)));
        f.Clock.AdvanceMs(4_999);
        Assert.True(f.Routes(Derived(Key(1), 1)));

        f.Clock.AdvanceMs(1);

        Assert.False(f.Routes(Derived(Key(1), 1)));
        Assert.Equal(1, f.Registry.Sweep(f.Table.NowMs));
        Assert.Equal(0, f.Table.Count);
        var counts = f.Registry.Snapshot();
        Assert.Equal(0, counts.Identities);
        Assert.Equal(0, counts.Registrations);
        Assert.Equal(0, counts.Cids);
    }

    [Fact]
    public void Refresh_extends_every_registration_by_its_lifetime()
    {
        var f = new RegistryFixture();
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 4, TimeSpan.FromSeconds(5)));
        f.Clock.AdvanceMs(4_000);

        Assert.True(f.Registry.Refresh(Node(1), 1, Address(5000)).IsOk);
        f.Clock.AdvanceMs(4_000);
        f.Registry.Sweep(f.Table.NowMs);

        Assert.True(f.Routes(Derived(Key(1), 4)));
    }

    [Fact]
    public void Refresh_with_nothing_registered_says_so()
    {
        var f = new RegistryFixture();

        Assert.Equal(RegistryStatus.NotRegistered, f.Registry.Refresh(Node(1), 1, Address(5000)).Status);
    }

    [Fact]
    public void After_a_disconnect_the_routes_go_when_the_grace_period_ends()
    {
        var f = new RegistryFixture(new RegistryOptions { DisconnectGrace = TimeSpan.FromSeconds(30) });
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 4));

        f.Registry.Disconnected(Node(1), 1);
        f.Clock.AdvanceMs(29_000);
        f.Registry.Sweep(f.Table.NowMs);
        Assert.True(f.Routes(Derived(Key(1), 1)));

        f.Clock.AdvanceMs(1_000);
        f.Registry.Sweep(f.Table.NowMs);

        Assert.False(f.Routes(Derived(Key(1), 1)));
        Assert.Equal(0, f.Table.Count);
        Assert.Equal(0, f.Registry.Snapshot().Identities);
    }

    [Fact]
    public void A_reconnect_that_refreshes_within_the_grace_period_keeps_the_routes()
    {
        var f = new RegistryFixture(new RegistryOptions { DisconnectGrace = TimeSpan.FromSeconds(30) });
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 4));
        f.Registry.Disconnected(Node(1), 1);
        f.Clock.AdvanceMs(10_000);

        Assert.True(f.Registry.Refresh(Node(1), 2, Address(5001)).IsOk);
        f.Clock.AdvanceMs(60_000);
        f.Registry.Sweep(f.Table.NowMs);

        Assert.True(f.Routes(Derived(Key(1), 1), Address(5001)));
    }

    [Fact]
    public void The_end_of_a_replaced_connection_does_not_start_the_grace_period()
    {
        var f = new RegistryFixture(new RegistryOptions { DisconnectGrace = TimeSpan.FromSeconds(1) });
        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(Key(1), 1, 4));
        f.Registry.Refresh(Node(1), 2, Address(5001));

        f.Registry.Disconnected(Node(1), 1);
        f.Clock.AdvanceMs(5_000);
        f.Registry.Sweep(f.Table.NowMs);

        Assert.True(f.Routes(Derived(Key(1), 1), Address(5001)));
    }
}
