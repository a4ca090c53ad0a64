using QuicPipe.Dataplane;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Control;

/// <summary>What the route observers (the XDP mirror) hear from the registry.</summary>
public class CidRegistryObserverTests
{
    [Fact]
    public void Unflagged_routes_are_mirrored_flagged_ones_are_not_and_removals_are_told()
    {
        var observer = new RecordingObserver();
        var f = new RegistryFixture(observers: [observer]);
        var key = Key(1);

        f.Registry.Register(Node(1), 1, Address(5000), DerivedRequest(key, 1, 8));

        // Counters 1-4 mirrored; 5-8 report use, so they must reach userspace: never mirrored.
        Assert.Equal(Enumerable.Range(1, 4).Select(c => Derived(key, (uint)c)).ToHashSet(), observer.Routed.Keys.ToHashSet());
        Assert.All(observer.Routed.Values, endpoint => Assert.Equal(Address(5000), endpoint));

        f.Registry.Unregister(Node(1), [], all: true);

        Assert.Empty(observer.Routed);
        Assert.Equal(0, f.Table.Count);
    }

    [Fact]
    public void A_move_to_a_new_address_is_mirrored()
    {
        var observer = new RecordingObserver();
        var f = new RegistryFixture(observers: [observer]);
        f.Registry.Register(Node(1), 1, Address(5000), ExplicitRequest([Cid(1)]));

        f.Registry.Refresh(Node(1), 2, Address(6000));

        Assert.Equal(Address(6000), observer.Routed[Cid(1)]);
    }

    /// <summary>Applies the notices to a map, as the XDP route map would.</summary>
    private sealed class RecordingObserver : IRouteObserver
    {
        public Dictionary<ConnectionId, PeerAddress> Routed { get; } = [];

        public void OnRoutesSet(ReadOnlySpan<(ConnectionId Cid, PeerAddress Endpoint)> routes)
        {
            foreach (var (cid, endpoint) in routes)
            {
                Routed[cid] = endpoint;
            }
        }

        public void OnRoutesRemoved(ReadOnlySpan<ConnectionId> cids)
        {
            foreach (var cid in cids)
            {
                Routed.Remove(cid);
            }
        }
    }
}
