using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using QuicPipe.Relay.Tests.Control;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// Routes registered through the relay's CID registry, with the XDP offload on: plain ones are mirrored into
/// the program's map and forwarded in the driver (its tx grows, the relay's forwarded does not); report-use
/// ones (the upper half of a sliding window) stay out of the map, so their first use reaches userspace and
/// slides the window, after which the routes that left the upper half are mirrored.
/// </summary>
[Collection(nameof(RelayXdpLabTests))]
public sealed class RelayXdpRegistryLabTests : IDisposable
{
    private const long Session = 1;
    private static readonly NodeId Node = RegistryFixture.Node(1);

    private RelayXdpLab _lab = null!;

    public void Dispose() => _lab?.Dispose();

    [RootFact]
    public void A_registered_route_is_mirrored_forwarded_by_XDP_TX_and_unregistering_removes_it()
    {
        _lab = new RelayXdpLab();
        var cid = RegistryFixture.Cid(1);
        Register(RegistryFixture.ExplicitRequest([cid]));

        Assert.True(_lab.MapRoutesToPeer(cid), "a registered route is not in the XDP map");
        var packet = RelayForwardingStageTests.ShortPacket(cid, 100);
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);
        var stats = _lab.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(0, stats.Packets.Forwarded);

        Assert.Equal(1, _lab.Relay.Registry.Unregister(Node, [cid], all: false));
        Assert.False(_lab.Program.TryGetRoute(cid, out _));

        // Now a miss for a CID nobody routes: userspace drops it and nothing is put back.
        _lab.Send(cid);
        Assert.True(RelayXdpLab.WaitUntil(() => _lab.Snapshot() is { Xdp.MissesIgnored: 1, Packets.DroppedTotal: 1 }), RelayXdpLab.Describe(_lab.Snapshot()));
        Assert.False(_lab.Program.TryGetRoute(cid, out _));
    }

    [RootFact]
    public void An_expired_registration_leaves_the_map()
    {
        _lab = new RelayXdpLab();
        var cid = RegistryFixture.Cid(2);
        Register(RegistryFixture.ExplicitRequest([cid], TimeSpan.FromMilliseconds(200)));
        Assert.True(_lab.MapRoutesToPeer(cid));

        var registry = _lab.Relay.Registry;
        Assert.Equal(0, registry.Sweep(registry.NowMs)); // not yet
        Assert.True(_lab.MapRoutesToPeer(cid));
        Assert.True(RelayXdpLab.WaitUntil(() => registry.Sweep(registry.NowMs) == 1), "the registration did not expire");
        Assert.False(_lab.Program.TryGetRoute(cid, out _));
        Assert.False(_lab.Relay.Table.TryGet(cid, out _));
    }

    [RootFact]
    public void A_miss_of_a_plain_registered_route_is_put_back_in_the_map()
    {
        _lab = new RelayXdpLab();
        var cid = RegistryFixture.Cid(3);
        Register(RegistryFixture.ExplicitRequest([cid]));
        Assert.True(_lab.Program.RemoveRoute(cid)); // behind the relay's back: the program misses it, as it misses a route its table refused

        var packet = RelayForwardingStageTests.ShortPacket(cid, 30);
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);
        Assert.True(RelayXdpLab.WaitUntil(() => _lab.Snapshot().Xdp!.MissesReinserted == 1), RelayXdpLab.Describe(_lab.Snapshot()));
        Assert.True(_lab.MapRoutesToPeer(cid));
        Assert.Equal(1, _lab.Snapshot().Packets.Forwarded);
    }

    [RootFact]
    public void A_report_use_route_goes_through_userspace_and_its_use_mirrors_the_routes_that_leave_the_upper_half()
    {
        _lab = new RelayXdpLab();
        var key = RegistryFixture.Key(4);
        var c = Enumerable.Range(0, 7).Select(i => CidDerivation.Derive(key, (uint)i)).ToArray();

        // Window 4 from counter 0: 0 and 1 plain, 2 and 3 report their use.
        Register(RegistryFixture.DerivedRequest(key, 0, 4));
        Assert.True(_lab.MapRoutesToPeer(c[0]));
        Assert.True(_lab.MapRoutesToPeer(c[1]));
        Assert.False(_lab.Program.TryGetRoute(c[2], out _), "a report-use route was mirrored: its use would never be reported");
        Assert.False(_lab.Program.TryGetRoute(c[3], out _));

        // Using counter 2: missed by XDP, forwarded by userspace, its miss not put back while it reports use.
        var packet = RelayForwardingStageTests.ShortPacket(c[2], 60);
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);
        // Both counters waited for: the relay counts a batch after sending it, so the peer (and the miss event)
        // can be ahead of its forwarded counter.
        Assert.True(RelayXdpLab.WaitUntil(() => _lab.Snapshot() is { Xdp.MissesIgnored: 1, Packets.Forwarded: 1 }), RelayXdpLab.Describe(_lab.Snapshot()));
        var afterUse = _lab.Snapshot();
        Assert.Equal(0, afterUse.Xdp!.MissesReinserted);
        Assert.Equal(1, afterUse.Packets.Forwarded);
        Assert.Equal(0UL, afterUse.Xdp.Program.Transmitted);
        Assert.False(_lab.Program.TryGetRoute(c[2], out _), "a report-use miss was put back into the map");

        // The use was reported: the window moves to 0..6, counters 2..4 leave (or enter below) the upper half.
        Assert.Equal(1, _lab.Relay.Registry.ProcessRouteUses());
        foreach (var i in new[] { 0, 1, 2, 3, 4 })
        {
            Assert.True(_lab.MapRoutesToPeer(c[i]), $"counter {i} is not mirrored after the window moved");
        }

        Assert.False(_lab.Program.TryGetRoute(c[5], out _));
        Assert.False(_lab.Program.TryGetRoute(c[6], out _));
        Assert.True(_lab.Relay.Table.TryGet(c[6], out var top));
        Assert.NotEqual(0UL, top.OwnerId & RouteFlags.ReportUse);

        // Counter 3, flagged before the move, is now forwarded in the driver.
        var next = RelayForwardingStageTests.ShortPacket(c[3], 61);
        _lab.Sender.SendTo(next, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(next);
        var stats = _lab.Snapshot();
        Assert.Equal(1UL, stats.Xdp!.Program.Transmitted);
        Assert.Equal(1, stats.Packets.Forwarded);
    }

    private void Register(CidRegistrationRequest request)
    {
        var result = _lab.Relay.Registry.Register(Node, Session, _lab.PeerRoute, request);
        Assert.Equal(RegistryStatus.Ok, result.Status);
    }
}
