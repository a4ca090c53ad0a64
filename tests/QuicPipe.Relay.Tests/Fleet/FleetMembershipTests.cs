using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane;
using QuicPipe.Protocol.Fleet;
using QuicPipe.Protocol.Relay;
using QuicPipe.Quic;
using QuicPipe.Relay.Fleet;
using QuicPipe.Relay.Fleet.Internal;
using QuicPipe.Relay.Tests.Control;
using Xunit;
using static QuicPipe.Relay.Tests.Control.RegistryFixture;

namespace QuicPipe.Relay.Tests.Fleet;

/// <summary>
/// Two relays' memberships over an in-memory directory (the etcd one runs in FleetCommandTests): a cross-relay
/// signal routes each peer's CIDs at the other relay, and renewals keep those routes while the peers stay.
/// </summary>
public class FleetMembershipTests
{
    private static readonly PeerAddress Relay1 = Address(4431);
    private static readonly PeerAddress Relay2 = Address(4432);

    [Fact]
    public async Task A_signal_across_relays_is_delivered_and_routes_each_peers_CIDs_to_the_others_relay()
    {
        var (r1, r2) = Fleet(out var m1, out _, out var delivered);
        Assert.True(r1.Registry.Register(Node(1), 1, Address(50_001), DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.True(r2.Registry.Register(Node(2), 1, Address(50_002), DerivedRequest(Key(2), 1, 4)).IsOk);

        Assert.Null(await m1.ForwardAsync(Node(1), Node(2), Google.Protobuf.ByteString.CopyFromUtf8("dial"), CancellationToken.None));
        Assert.Equal([(Node(1), Node(2), "dial")], delivered);
        Assert.True(r1.Routes(Derived(Key(2), 1), Relay2));
        Assert.True(r2.Routes(Derived(Key(1), 1), Relay1));

        var unknown = await m1.ForwardAsync(Node(1), Node(9), Google.Protobuf.ByteString.Empty, CancellationToken.None);
        Assert.Equal(ErrorCode.UnknownNode, unknown?.Code);
        Assert.Contains("registered at no relay of the fleet", unknown?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Renewals_keep_the_routes_between_relays_past_their_lifetime_while_the_peers_stay_registered()
    {
        var (r1, r2) = Fleet(out var m1, out var m2, out _);
        var life = r1.Registry.Options.MaxLifetime;
        Assert.True(r1.Registry.Register(Node(1), 1, Address(50_001), DerivedRequest(Key(1), 1, 4, life)).IsOk);
        Assert.True(r2.Registry.Register(Node(2), 1, Address(50_002), DerivedRequest(Key(2), 1, 4, life)).IsOk);
        Assert.Null(await m1.ForwardAsync(Node(1), Node(2), Google.Protobuf.ByteString.Empty, CancellationToken.None));

        // Two thirds of the remote routes' lifetime on, each relay renews its peer's routes at the other one.
        var lifetimeMs = (long)life.TotalMilliseconds;
        Advance(r1, r2, lifetimeMs * 2 / 3);
        RefreshPeers(r1, r2, peer1: true);
        Assert.Equal(1, await m1.RenewRoutesAsync(CancellationToken.None));
        Assert.Equal(1, await m2.RenewRoutesAsync(CancellationToken.None));
        Advance(r1, r2, lifetimeMs * 2 / 3);
        Assert.True(r1.Routes(Derived(Key(2), 1), Relay2));
        Assert.True(r2.Routes(Derived(Key(1), 1), Relay1));

        // Peer 1 leaves relay 1: no renewal for it any more, and its routes at relay 2 lapse.
        r1.Registry.Unregister(Node(1), [], all: true);
        RefreshPeers(r1, r2, peer1: false);
        Assert.Equal(0, await m1.RenewRoutesAsync(CancellationToken.None));
        Assert.Equal(1, await m2.RenewRoutesAsync(CancellationToken.None));
        Advance(r1, r2, lifetimeMs * 2 / 3);
        Assert.False(r2.Routes(Derived(Key(1), 1)));
        Assert.True(r1.Routes(Derived(Key(2), 1), Relay2));
    }

    [Fact]
    public async Task A_peer_at_several_relays_is_answered_through_the_relay_its_signal_came_through_not_any_the_directory_names()
    {
        var hub = new Dictionary<string, InMemoryDirectory>();
        var delivered = new List<(NodeId, NodeId, string)>();
        RegistryFixture r1 = new(), r2 = new(), r3 = new();
        var relay3 = Address(4433);
        Join(hub, "relay1", r1, Relay1, delivered);
        var m2 = Join(hub, "relay2", r2, Relay2, delivered);
        var m3 = Join(hub, "relay3", r3, relay3, delivered);

        // Peer 1 is registered at relays 1 and 2 (the directory names relay 1 first) and dials peer 3 through relay 2.
        Assert.True(r1.Registry.Register(Node(1), 1, Address(50_001), DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.True(r2.Registry.Register(Node(1), 1, Address(50_001), DerivedRequest(Key(1), 1, 4)).IsOk);
        Assert.True(r3.Registry.Register(Node(3), 1, Address(50_003), DerivedRequest(Key(3), 1, 4)).IsOk);
        Assert.Null(await m2.ForwardAsync(Node(1), Node(3), Google.Protobuf.ByteString.CopyFromUtf8("dial"), CancellationToken.None));
        Assert.True(r3.Routes(Derived(Key(1), 1), Relay2));

        // Peer 3's answer goes back through relay 2, so peer 1's CIDs stay routed where its connection's packets go.
        Assert.Null(await m3.ForwardAsync(Node(3), Node(1), Google.Protobuf.ByteString.CopyFromUtf8("answer"), CancellationToken.None));
        Assert.True(r3.Routes(Derived(Key(1), 1), Relay2));
        Assert.True(r2.Routes(Derived(Key(3), 1), relay3));
        Assert.False(r1.Routes(Derived(Key(3), 1)));
        Assert.Equal([(Node(1), Node(3), "dial"), (Node(3), Node(1), "answer")], delivered);
    }

    /// <summary>The peers' own refreshes at their relays, as their control connections send them.</summary>
    private static void RefreshPeers(RegistryFixture r1, RegistryFixture r2, bool peer1)
    {
        if (peer1)
        {
            Assert.True(r1.Registry.Refresh(Node(1), 1, Address(50_001)).IsOk);
        }

        Assert.True(r2.Registry.Refresh(Node(2), 1, Address(50_002)).IsOk);
    }

    private static void Advance(RegistryFixture r1, RegistryFixture r2, long ms)
    {
        foreach (var r in new[] { r1, r2 })
        {
            r.Clock.AdvanceMs(ms);
            r.Registry.Sweep(r.Table.NowMs);
        }
    }

    private static (RegistryFixture R1, RegistryFixture R2) Fleet(out FleetMembership m1, out FleetMembership m2, out List<(NodeId, NodeId, string)> delivered)
    {
        var hub = new Dictionary<string, InMemoryDirectory>();
        var r1 = new RegistryFixture();
        var r2 = new RegistryFixture();
        var sink = new List<(NodeId, NodeId, string)>();
        delivered = sink;
        m1 = Join(hub, "relay1", r1, Relay1, sink);
        m2 = Join(hub, "relay2", r2, Relay2, sink);
        return (r1, r2);
    }

    private static FleetMembership Join(Dictionary<string, InMemoryDirectory> hub, string id, RegistryFixture registry, PeerAddress address, List<(NodeId, NodeId, string)> delivered)
    {
        var directory = new InMemoryDirectory(hub, id);
        var membership = new FleetMembership(directory, registry.Registry, address, NullLogger.Instance, TimeSpan.FromDays(1));
        registry.Registry.IdentityObserver = membership;
        membership.Start((from, to, payload) =>
        {
            delivered.Add((from, to, payload.ToStringUtf8()));
            return null;
        });
        return membership;
    }

    /// <summary>The directory's contract in memory: one hub of relays, each with its published NodeIds and its inbox.</summary>
    private sealed class InMemoryDirectory(Dictionary<string, InMemoryDirectory> hub, string id) : IRelayDirectory
    {
        private readonly HashSet<NodeId> _published = [];
        private IRelayInbox? _inbox;

        public string RelayId => id;

        public bool IsConnected => true;

        public void Start(IRelayInbox inbox)
        {
            _inbox = inbox;
            hub[id] = this;
        }

        public void Publish(NodeId node) => _published.Add(node);

        public void Withdraw(NodeId node) => _published.Remove(node);

        public Task<string?> LookupAsync(NodeId node, CancellationToken cancellationToken) =>
            Task.FromResult(hub.Values.FirstOrDefault(r => r != this && r._published.Contains(node))?.RelayId);

        public Task<FleetAnswer> SendAsync(string relayId, FleetSignal signal, CancellationToken cancellationToken) =>
            hub[relayId]._inbox!.OnSignalAsync(id, signal, cancellationToken);

        public Task PostAsync(string relayId, FleetRoutes routes, CancellationToken cancellationToken)
        {
            hub[relayId]._inbox!.OnRoutes(id, routes);
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
