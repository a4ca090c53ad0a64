using QuicPipe.Dataplane;
using QuicPipe.Protocol;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using Xunit;

namespace QuicPipe.Peer.Tests;

public class RegistrationTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public async Task Registering_a_derived_window_routes_exactly_its_CIDs_to_the_observed_address()
    {
        await using var relay = new RelayControlFixture();
        var (client, endpoint) = await relay.ConnectAsync();

        var registration = await client.RegisterDerivedAsync(Key, 100, 16, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());

        Assert.Equal(endpoint.LocalEndPoint, registration.ObservedAddress);
        Assert.Equal(16, registration.CidCount);
        Assert.InRange(registration.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(50), DateTimeOffset.UtcNow.AddSeconds(61));
        Assert.Equal(relay.Identity.NodeId, client.RelayNodeId);
        Assert.Equal(16, relay.Table.Count);
        for (uint c = 100; c < 116; c++)
        {
            Assert.True(relay.Routes(CidDerivation.Derive(Key, c), endpoint.LocalEndPoint), $"counter {c}");
        }

        Assert.Equal(1, relay.Service.Snapshot().Registrations);
    }

    [Fact]
    public async Task A_second_identity_registering_the_same_key_is_refused_and_the_first_keeps_its_routes()
    {
        await using var relay = new RelayControlFixture();
        var (first, firstEndpoint) = await relay.ConnectAsync();
        var (second, _) = await relay.ConnectAsync();
        await first.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());

        var refused = await Assert.ThrowsAsync<RelayControlException>(() =>
            second.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout()));
        var explicitRefused = await Assert.ThrowsAsync<RelayControlException>(() =>
            second.RegisterExplicitAsync([CidDerivation.Derive(Key, 3)], TimeSpan.FromMinutes(1), RelayControlFixture.Timeout()));

        Assert.Equal(RelayErrorCode.CidOwnedByOther, refused.Code);
        Assert.Equal(RelayErrorCode.CidOwnedByOther, explicitRefused.Code);
        Assert.Equal(8, relay.Table.Count);
        for (uint c = 1; c < 9; c++)
        {
            Assert.True(relay.Routes(CidDerivation.Derive(Key, c), firstEndpoint.LocalEndPoint));
        }

        Assert.Equal(2, relay.Service.Snapshot().RegistrationsRefused);
    }

    [Fact]
    public async Task Quotas_refuse_with_QUOTA_EXCEEDED()
    {
        await using var relay = new RelayControlFixture(new RegistryOptions { MaxCidsPerIdentity = 10 });
        var (client, _) = await relay.ConnectAsync();

        var error = await Assert.ThrowsAsync<RelayControlException>(() =>
            client.RegisterDerivedAsync(Key, 1, 11, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout()));

        Assert.Equal(RelayErrorCode.QuotaExceeded, error.Code);
        Assert.Equal(0, relay.Table.Count);
    }

    [Fact]
    public async Task Re_registering_from_another_endpoint_moves_the_routes_and_replaces_the_old_connection()
    {
        await using var relay = new RelayControlFixture();
        var identity = NodeIdentity.Generate();
        var (old, oldEndpoint) = await relay.ConnectAsync(identity);
        await old.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());

        var (moved, newEndpoint) = await relay.ConnectAsync(identity);
        var registration = await moved.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());

        Assert.NotEqual(oldEndpoint.LocalEndPoint, newEndpoint.LocalEndPoint);
        Assert.Equal(newEndpoint.LocalEndPoint, registration.ObservedAddress);
        for (uint c = 1; c < 9; c++)
        {
            Assert.True(relay.Routes(CidDerivation.Derive(Key, c), newEndpoint.LocalEndPoint));
        }

        // One control connection per NodeId: the older one is closed, saying why and naming where the newer one is.
        await old.Closed.WaitAsync(RelayControlFixture.Limit);
        Assert.Contains("newer control connection", old.CloseReason, StringComparison.Ordinal);
        Assert.Equal(RelayProtocol.CloseReplaced, old.CloseErrorCode);
        Assert.True(ReplacedCloseReason.TryParse(old.CloseReasonPhrase, out var newer), old.CloseReasonPhrase);
        Assert.Equal(newEndpoint.LocalEndPoint, newer);
    }

    [Fact]
    public async Task Explicit_CIDs_register_refresh_and_unregister()
    {
        await using var relay = new RelayControlFixture();
        var (client, endpoint) = await relay.ConnectAsync();
        ConnectionId[] cids = [Cid(1), Cid(2), Cid(3)];

        var registered = await client.RegisterExplicitAsync(cids, TimeSpan.FromSeconds(30), RelayControlFixture.Timeout());
        var refreshed = await client.RefreshAsync(RelayControlFixture.Timeout());

        Assert.Equal(3, registered.CidCount);
        Assert.Equal(3, refreshed.CidCount);
        Assert.All(cids, cid => Assert.True(relay.Routes(cid, endpoint.LocalEndPoint)));

        await client.UnregisterAllAsync(RelayControlFixture.Timeout());

        Assert.Equal(0, relay.Table.Count);
        var error = await Assert.ThrowsAsync<RelayControlException>(() => client.RefreshAsync(RelayControlFixture.Timeout()));
        Assert.Equal(RelayErrorCode.NotRegistered, error.Code);
    }

    [Fact]
    public async Task Ping_reports_the_address_the_relay_sees()
    {
        await using var relay = new RelayControlFixture();
        var (client, endpoint) = await relay.ConnectAsync();

        Assert.Equal(endpoint.LocalEndPoint, await client.PingAsync(RelayControlFixture.Timeout()));
    }

    private static ConnectionId Cid(byte n) => new([0x10, n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
}
