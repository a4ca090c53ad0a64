using QuicPipe.Dataplane;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using Xunit;

namespace QuicPipe.Peer.Tests;

public class GracePeriodTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 16).Select(i => (byte)(i + 1)).ToArray();

    [Fact]
    public async Task The_routes_go_a_grace_period_after_the_control_connection_closes()
    {
        await using var relay = new RelayControlFixture(new RegistryOptions { DisconnectGrace = TimeSpan.FromMilliseconds(500) });
        var (client, _) = await relay.ConnectAsync();
        await client.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());

        // The relay cannot see the end before the client starts closing: the grace period runs from later.
        var closing = DateTime.UtcNow;
        await client.DisposeAsync();
        await RelayControlFixture.EventuallyAsync(() => relay.Table.Count == 0, "routes removed after the grace period");

        Assert.True(DateTime.UtcNow - closing >= TimeSpan.FromMilliseconds(480), "the routes went before the grace period ended");
        Assert.Equal(0, relay.Registry.Snapshot().Identities);
    }

    [Fact]
    public async Task A_reconnect_that_refreshes_within_the_grace_period_keeps_the_routes()
    {
        var grace = TimeSpan.FromSeconds(3);
        await using var relay = new RelayControlFixture(new RegistryOptions { DisconnectGrace = grace });
        var identity = NodeIdentity.Generate();
        var (client, _) = await relay.ConnectAsync(identity);
        await client.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        await client.DisposeAsync();
        var disconnected = DateTime.UtcNow;

        var (again, endpoint) = await relay.ConnectAsync(identity);
        var refreshed = await again.RefreshAsync(RelayControlFixture.Timeout());

        // Past the end of the grace period the first connection started (and a sweep or two more).
        var left = disconnected + grace + TimeSpan.FromMilliseconds(500) - DateTime.UtcNow;
        Assert.True(left > TimeSpan.Zero, "the reconnect took longer than the grace period; the test proves nothing");
        await Task.Delay(left);

        Assert.Equal(8, refreshed.CidCount);
        Assert.Equal(8, relay.Table.Count);
        Assert.True(relay.Routes(CidDerivation.Derive(Key, 1), endpoint.LocalEndPoint));
    }

    [Fact]
    public async Task An_expired_registration_is_removed()
    {
        await using var relay = new RelayControlFixture();
        var (client, _) = await relay.ConnectAsync();
        await client.RegisterDerivedAsync(Key, 1, 4, TimeSpan.FromSeconds(1), RelayControlFixture.Timeout());
        Assert.Equal(4, relay.Table.Count);

        await RelayControlFixture.EventuallyAsync(() => relay.Registry.Snapshot().Cids == 0, "the expired registration swept");

        Assert.Equal(0, relay.Table.Count);
        Assert.False(relay.Table.TryGet(CidDerivation.Derive(Key, 1), out _));
    }
}
