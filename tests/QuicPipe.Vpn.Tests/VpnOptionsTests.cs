using System.Net;
using QuicPipe.Peer;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Vpn.Tests;

/// <summary>The settings a VPN refuses, each with a message naming what is wrong; a router is never built on them.</summary>
public class VpnOptionsTests
{
    private static readonly NodeId A = TestVpn.NewPeer();
    private static readonly NodeId B = TestVpn.NewPeer();

    [Fact]
    public void A_VPN_with_no_peers_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new VpnOptions().Validate());

        Assert.Equal("A VPN needs at least one peer.", error.Message);
    }

    [Fact]
    public void A_peer_listed_twice_is_refused_by_its_NodeId()
    {
        var options = Options((A, ["10.9.0.0/16"]), (B, ["10.8.0.0/16"]), (A, ["10.7.0.0/16"]));

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal($"Peer {A} is listed twice; give all its prefixes in one entry.", error.Message);
    }

    [Fact]
    public void A_peer_with_no_prefix_is_refused_by_its_NodeId()
    {
        var options = Options((A, ["10.9.0.0/16"]), (B, []));

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal($"Peer {B} has no allowed prefix.", error.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4097)]
    public void A_pending_queue_out_of_range_is_refused(int packets)
    {
        var options = Options((A, ["10.9.0.0/16"]));
        options.PendingPacketsPerPeer = packets;

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Equal(nameof(VpnOptions.PendingPacketsPerPeer), error.ParamName);
    }

    [Fact]
    public void A_negative_redial_delay_is_refused()
    {
        var options = Options((A, ["10.9.0.0/16"]));
        options.RedialDelay = TimeSpan.FromSeconds(-1);

        Assert.Equal(nameof(VpnOptions.RedialDelay), Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
    }

    [Fact]
    public async Task The_router_validates_its_options()
    {
        await using var endpoint = Endpoint();

        Assert.Throws<ArgumentException>(() => new VpnRouter(endpoint, new VpnOptions()));
        Assert.Throws<ArgumentException>(() => new VpnRouter(endpoint, Options((A, ["10.9.0.0/16"]), (A, ["10.8.0.0/16"]))));
    }

    [Theory]
    [InlineData("10.9.0.0/16", "10.9.0.0/16")]
    [InlineData("fd00:64::/64", "fd00:64:0:0::/64")]
    public async Task The_router_refuses_a_prefix_given_to_two_peers_naming_it(string first, string second)
    {
        await using var endpoint = Endpoint();
        var options = Options((A, ["100.64.0.2/32", first]), (B, ["100.64.0.3/32", second]));

        var error = Assert.Throws<ArgumentException>(() => new VpnRouter(endpoint, options));

        Assert.Contains($"The prefix {IpPrefix.Parse(first)} is given to both", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_router_accepts_nested_prefixes_of_two_peers_and_one_prefix_repeated_by_one_peer()
    {
        await using var endpoint = Endpoint();
        var options = Options((A, ["10.9.0.0/16", "10.9.0.0/16"]), (B, ["10.9.1.0/24"]));

        await using var router = new VpnRouter(endpoint, options);

        Assert.Equal(2, router.Routes.Count);
    }

    private static VpnOptions Options(params (NodeId Peer, string[] Prefixes)[] peers)
    {
        var options = new VpnOptions();
        foreach (var (peer, prefixes) in peers)
        {
            options.Peers.Add(new VpnPeerOptions(peer, [.. prefixes.Select(IpPrefix.Parse)]));
        }

        return options;
    }

    private static PeerEndpoint Endpoint() => new(new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = IPEndPoint.Parse("127.0.0.1:9") });
}
