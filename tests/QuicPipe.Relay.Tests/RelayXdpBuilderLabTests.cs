using QuicPipe.Dataplane;
using QuicPipe.Lab;
using QuicPipe.Quic;
using QuicPipe.Relay.Tests.Control;
using Xunit;

namespace QuicPipe.Relay.Tests;

/// <summary>
/// The XDP offload as its own handler beside the relay: it mirrors routes that were in the table before it
/// attached, and it can go away (stop, dispose) while the relay keeps changing routes, without the relay's
/// threads hearing of it.
/// </summary>
[Collection(nameof(RelayXdpLabTests))]
public sealed class RelayXdpBuilderLabTests : IDisposable
{
    private static readonly NodeId Node = RegistryFixture.Node(3);

    private RelayXdpLab _lab = null!;

    public void Dispose() => _lab?.Dispose();

    [RootFact]
    public void A_route_change_told_to_a_disposed_offload_is_ignored()
    {
        _lab = new RelayXdpLab();
        var offload = _lab.Built.Xdp!.Offload!;
        var cid = RegistryFixture.Cid(30);

        // What the registry's thread does when it read the observer list just before the offload left it.
        offload.Dispose();
        offload.OnRoutesSet([(cid, _lab.PeerRoute)]);
        offload.OnRoutesRemoved([cid]);

        Assert.Null(offload.Snapshot());
    }

    [RootFact]
    public async Task After_the_offload_stops_the_relay_registers_and_forwards_in_userspace()
    {
        _lab = new RelayXdpLab();
        var before = RegistryFixture.Cid(31);
        Register(before);
        Assert.True(_lab.MapRoutesToPeer(before));

        await _lab.Built.Xdp!.StopAsync(CancellationToken.None);
        Assert.Null(_lab.Built.Xdp.Offload);
        Assert.Null(_lab.Snapshot().Xdp);

        // The registry tells its observers; the stopped offload is no longer one, and nothing throws.
        var after = RegistryFixture.Cid(32);
        Register(after);
        var packet = RelayForwardingStageTests.ShortPacket(after, 100);
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);

        // The loop counts a batch after sending it: the peer may have the packet a moment before the counter moves.
        Assert.True(RelayXdpLab.WaitUntil(() => _lab.Snapshot().Packets.Forwarded == 1), RelayXdpLab.Describe(_lab.Snapshot()));
    }

    [RootFact]
    public void Routes_in_the_table_before_the_offload_attached_are_in_its_map()
    {
        // The lab's relay starts before its offload; a registration then has to reach the map by notification.
        // This one is in the table first and the offload is started again afterwards, so only the copy can put it there.
        _lab = new RelayXdpLab();
        var cid = RegistryFixture.Cid(33);
        _lab.Built.Xdp!.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        Register(cid);
        NetworkLab.InNamespace(_lab.RelayNamespace, () =>
        {
            _lab.Built.Xdp.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
            return 0;
        });

        Assert.True(_lab.MapRoutesToPeer(cid), "a route already in the table was not copied into the map");
        var packet = RelayForwardingStageTests.ShortPacket(cid, 100);
        _lab.Sender.SendTo(packet, _lab.RelayEndPoint);
        _lab.ReceiveAtPeer(packet);
        Assert.Equal(1UL, _lab.Snapshot().Xdp!.Program.Transmitted);
    }

    private void Register(ConnectionId cid)
    {
        var result = _lab.Relay.Registry.Register(Node, 1, _lab.PeerRoute, RegistryFixture.ExplicitRequest([cid]));
        Assert.Equal(Relay.Control.RegistryStatus.Ok, result.Status);
    }
}
