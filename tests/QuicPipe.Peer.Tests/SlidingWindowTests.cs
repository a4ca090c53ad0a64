using QuicPipe.Dataplane;
using QuicPipe.Relay;
using Xunit;

namespace QuicPipe.Peer.Tests;

public class SlidingWindowTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 16).Select(i => (byte)(0x40 + i)).ToArray();

    [Fact]
    public async Task The_service_moves_a_window_ahead_of_a_CID_the_forwarding_path_reports_in_use()
    {
        await using var relay = new RelayControlFixture();
        var (client, endpoint) = await relay.ConnectAsync();
        await client.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        Assert.False(relay.Routes(CidDerivation.Derive(Key, 9), endpoint.LocalEndPoint));

        // What the forwarding stage does for a packet on a route flagged ReportUse.
        var used = CidDerivation.Derive(Key, 7);
        Assert.True(relay.Table.TryGet(used, out var route));
        Assert.NotEqual(0UL, route.OwnerId & RouteFlags.ReportUse);
        relay.Registry.RouteUseSink.OnRouteUsed(used);

        await RelayControlFixture.EventuallyAsync(() => relay.Routes(CidDerivation.Derive(Key, 15), endpoint.LocalEndPoint), "counter 7 + 8 routed");
        Assert.False(relay.Routes(CidDerivation.Derive(Key, 16), endpoint.LocalEndPoint));
        Assert.Equal(1, relay.Service.Snapshot().Registry.WindowAdvances);
    }
}
