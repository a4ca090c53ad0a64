using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Relay.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>Fresh keys cost nothing: what one source address, and one /24, may hold is bounded however many identities it brings.</summary>
public class CidRegistrySourceQuotaTests
{
    private static PeerAddress At(string address, int port = 5000) => PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse(address), port));

    [Fact]
    public void Throwaway_identities_from_one_address_take_its_share_and_another_address_still_registers()
    {
        var f = new RegistryFixture(
            new RegistryOptions { MaxIdentitiesPerAddress = 100, MaxCidsPerAddress = 64, MaxCidsPerPrefix = 1000, MaxCidsPerIdentity = 16 },
            tableCapacity: 1000);

        // 300 identities from one address, each from its own port, each asking for 16 CIDs.
        var accepted = Enumerable.Range(0, 300).Count(i => f.Registry.Register(Node(i), i, At("198.51.100.7", 1000 + i), DerivedRequest(Key(i), 1, 16)).IsOk);

        Assert.Equal(4, accepted);
        Assert.Equal(64, f.Table.Count);
        var refused = f.Registry.Register(Node(999), 999, At("198.51.100.7"), DerivedRequest(Key(999), 1, 1));
        Assert.Equal(RegistryStatus.QuotaExceeded, refused.Status);
        Assert.Contains("198.51.100.7", refused.Message, StringComparison.Ordinal);

        // A peer from another network is not held back by any of it.
        Assert.True(f.Registry.Register(Node(1000), 1000, At("203.0.113.9"), DerivedRequest(Key(1000), 1, 16)).IsOk);
    }

    [Fact]
    public void Identities_per_address_and_per_24_are_bounded()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxIdentitiesPerAddress = 2, MaxIdentitiesPerPrefix = 3 });
        Assert.True(f.Registry.Register(Node(1), 1, At("192.0.2.1"), ExplicitRequest([Cid(1)])).IsOk);
        Assert.True(f.Registry.Register(Node(2), 2, At("192.0.2.1", 6000), ExplicitRequest([Cid(2)])).IsOk);

        Assert.Equal(RegistryStatus.QuotaExceeded, f.Registry.Register(Node(3), 3, At("192.0.2.1"), ExplicitRequest([Cid(3)])).Status);
        Assert.True(f.Registry.Register(Node(4), 4, At("192.0.2.2"), ExplicitRequest([Cid(4)])).IsOk);
        var prefix = f.Registry.Register(Node(5), 5, At("192.0.2.3"), ExplicitRequest([Cid(5)]));
        Assert.Equal(RegistryStatus.QuotaExceeded, prefix.Status);
        Assert.Contains("/24", prefix.Message, StringComparison.Ordinal);

        // A registered identity keeps registering from its address; one that leaves frees its place.
        Assert.True(f.Registry.Register(Node(1), 1, At("192.0.2.1"), ExplicitRequest([Cid(6)])).IsOk);
        f.Registry.Unregister(Node(2), [], all: true);
        Assert.True(f.Registry.Register(Node(3), 3, At("192.0.2.1"), ExplicitRequest([Cid(3)])).IsOk);
    }

    [Fact]
    public void CIDs_per_24_are_bounded_across_its_addresses()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxCidsPerAddress = 8, MaxCidsPerPrefix = 12 });
        Assert.True(f.Registry.Register(Node(1), 1, At("10.9.8.1"), DerivedRequest(Key(1), 1, 8)).IsOk);

        Assert.Equal(RegistryStatus.QuotaExceeded, f.Registry.Register(Node(2), 2, At("10.9.8.2"), DerivedRequest(Key(2), 1, 8)).Status);
        Assert.True(f.Registry.Register(Node(2), 2, At("10.9.8.2"), DerivedRequest(Key(2), 1, 4)).IsOk);
        Assert.True(f.Registry.Register(Node(3), 3, At("10.9.9.2"), DerivedRequest(Key(3), 1, 8)).IsOk);
    }

    [Fact]
    public void An_identity_that_moves_counts_at_its_new_address()
    {
        var f = new RegistryFixture(new RegistryOptions { MaxIdentitiesPerAddress = 1 });
        Assert.True(f.Registry.Register(Node(1), 1, At("192.0.2.1"), ExplicitRequest([Cid(1)])).IsOk);

        // NAT rebinding: the refresh moves it, so its old address is free and its new one taken.
        Assert.True(f.Registry.Refresh(Node(1), 1, At("192.0.2.50")).IsOk);

        Assert.True(f.Registry.Register(Node(2), 2, At("192.0.2.1"), ExplicitRequest([Cid(2)])).IsOk);
        Assert.Equal(RegistryStatus.QuotaExceeded, f.Registry.Register(Node(3), 3, At("192.0.2.50"), ExplicitRequest([Cid(3)])).Status);
    }
}
