using System.Net;
using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>Throwaway identities from one address, over real control connections: that address gets its share, others still get in.</summary>
public class SourceQuotaTests
{
    [Fact]
    public async Task Three_hundred_throwaway_identities_from_one_address_take_its_share_and_a_peer_from_another_registers()
    {
        await using var relay = new RelayControlFixture(new RegistryOptions { MaxCidsPerAddress = 1024, MaxCidsPerIdentity = 64 });
        var accepted = 0;
        var quotaRefusals = 0;
        for (var i = 0; i < 300; i++)
        {
            // One at a time, each a new key from a new port of 127.0.0.1, gone once it registered (its routes stay
            // for the grace period after its connection ends, so they still count).
            var identity = NodeIdentity.Generate();
            await using var endpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = identity });
            await using var client = await RelayControlClient.ConnectAsync(endpoint, relay.Address, relay.Identity.NodeId, RelayControlFixture.Timeout());
            try
            {
                await client.RegisterDerivedAsync(BitConverter.GetBytes(i).Concat(new byte[28]).ToArray(), 1, 64, TimeSpan.FromMinutes(5), RelayControlFixture.Timeout());
                accepted++;
            }
            catch (RelayControlException e) when (e.Code == RelayErrorCode.QuotaExceeded)
            {
                Assert.Contains("for one address", e.Message, StringComparison.Ordinal);
                quotaRefusals++;
            }
        }

        Assert.Equal(16, accepted);
        Assert.Equal(284, quotaRefusals);
        Assert.Equal(1024, relay.Table.Count);

        // 127.0.0.2 is another source (Linux routes all of 127/8 to lo): it registers its full window.
        var legit = relay.NewEndpoint(NodeIdentity.Generate(), IPAddress.Parse("127.0.0.2"));
        var (peer, _) = await relay.ConnectAsync(endpoint: legit);
        var registration = await peer.RegisterDerivedAsync(Enumerable.Repeat((byte)0xAB, 32).ToArray(), 1, 64, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        Assert.Equal(64, registration.CidCount);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), legit.LocalEndPoint.Port), registration.ObservedAddress);
    }

    [Fact]
    public async Task Control_connections_beyond_the_per_address_quota_are_closed_and_another_address_connects()
    {
        await using var relay = new RelayControlFixture(control: new RelayControlOptions { MaxConnectionsPerAddress = 2, MaxConnectionsPerPrefix = 3 });
        await relay.ConnectAsync();
        await relay.ConnectAsync();

        var third = await Assert.ThrowsAsync<RelayControlException>(() => relay.ConnectAsync());

        Assert.Contains("too many control connections from 127.0.0.1", third.Message, StringComparison.Ordinal);
        Assert.Equal(1, relay.Service.Snapshot().RefusedPerSource);
        var (other, _) = await relay.ConnectAsync(endpoint: relay.NewEndpoint(NodeIdentity.Generate(), IPAddress.Parse("127.0.0.2")));
        Assert.Equal(relay.Identity.NodeId, other.RelayNodeId);

        // 127.0.0.3 shares 127.0.0.1's /24, which now has its 3.
        var prefix = await Assert.ThrowsAsync<RelayControlException>(() => relay.ConnectAsync(endpoint: relay.NewEndpoint(NodeIdentity.Generate(), IPAddress.Parse("127.0.0.3"))));
        Assert.Contains("one /24 or /64", prefix.Message, StringComparison.Ordinal);
    }
}
