using System.Diagnostics;
using System.Net;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>What a peer that stops leaves at its relay.</summary>
public class StopTests
{
    [Fact]
    public async Task A_peer_that_stops_unregisters_so_its_routes_go_at_once_not_after_the_grace_period()
    {
        // The default grace period (30 s) would keep the routes of a peer that merely closed its control connection.
        await using var relay = new RelayControlFixture();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var peer = await PeerEndpoint.StartAsync(
            new PeerEndpointOptions
            {
                Identity = NodeIdentity.Generate(),
                Relay = relay.Address,
                RelayId = relay.Identity.NodeId,
                LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                DirectPaths = false,
            },
            timeout.Token);
        Assert.True(relay.Table.Count > 0);

        var clock = Stopwatch.StartNew();
        await peer.DisposeAsync();

        await RelayControlFixture.EventuallyAsync(() => relay.Table.Count == 0, "the routes removed");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the routes went {clock.Elapsed.TotalSeconds:0.0} s after the stop");
        Assert.Equal(0, relay.Registry.Snapshot().Identities);
    }
}
