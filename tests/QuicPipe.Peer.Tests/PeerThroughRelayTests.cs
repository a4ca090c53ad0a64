using System.Net;
using QuicPipe.Quic;
using QuicPipe.Relay;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// PeerEndpoints through a real <see cref="RelayServer"/> on loopback: the control service on the relay's own
/// socket, dials set up by signalling, packets forwarded by CID. Direct paths are off here (they would move the
/// connections off the relay on loopback); <see cref="DirectPathTests"/> covers them.
/// </summary>
public sealed class PeerThroughRelayTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task Two_dialers_reach_one_accepter_and_each_connection_is_pinned_to_its_dialer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a1 = NodeIdentity.Generate();
        var a2 = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: false, timeout.Token, a1.NodeId, a2.NodeId);
        await using var dialer1 = await _relay.StartPeerAsync(a1, directPaths: false, timeout.Token);
        await using var dialer2 = await _relay.StartPeerAsync(a2, directPaths: false, timeout.Token);

        var connections = await Task.WhenAll(dialer1.DialAsync(accepter.NodeId, timeout.Token), dialer2.DialAsync(accepter.NodeId, timeout.Token));
        var accepted = new[] { await accepter.AcceptAsync(timeout.Token), await accepter.AcceptAsync(timeout.Token) };

        Assert.Equal(new[] { a1.NodeId, a2.NodeId }.OrderBy(n => n.ToString()), accepted.Select(c => c.RemoteNodeId!.Value).OrderBy(n => n.ToString()));
        Assert.All(connections, c => Assert.Equal(_relay.Address, c.RemoteEndPoint));
        foreach (var connection in connections)
        {
            var server = accepted.Single(s => s.RemoteNodeId == (connection == connections[0] ? a1.NodeId : a2.NodeId));
            await Echo.AssertAsync(connection, server, 256 * 1024, timeout.Token);
        }

        Assert.True(_relay.Server.Snapshot().Packets.Forwarded > 0);
    }

    [Fact]
    public async Task A_third_identity_cannot_take_the_accepters_CIDs_and_the_accepters_traffic_is_unaffected()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(b, directPaths: false, timeout.Token, a.NodeId);
        await using var dialer = await _relay.StartPeerAsync(a, directPaths: false, timeout.Token);
        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);

        // Mallory registers, as explicit CIDs, every CID the relay routes to B.
        var stolen = _relay.Server.Registry.CidsOf(b.NodeId);
        Assert.NotEmpty(stolen);
        await using var mallory = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        await using var control = await RelayControlClient.ConnectAsync(mallory, _relay.Address, _relay.Server.NodeId, timeout.Token);
        var refused = await Assert.ThrowsAsync<RelayControlException>(() => control.RegisterExplicitAsync([.. stolen.Take(4)], TimeSpan.FromMinutes(1), timeout.Token));

        Assert.Equal(RelayErrorCode.CidOwnedByOther, refused.Code);
        await Echo.AssertAsync(connection, accepted, 1024 * 1024, timeout.Token);
    }

    [Fact]
    public async Task Dialing_a_NodeId_that_is_not_registered_fails_with_a_clear_error_at_once()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var dialer = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: false, timeout.Token);
        var stranger = NodeIdentity.Generate().NodeId;

        var error = await Assert.ThrowsAsync<PeerException>(() => dialer.DialAsync(stranger, timeout.Token));

        Assert.Contains(stranger.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Equal(PeerFailure.PeerUnreachable, error.Failure);
    }

    [Fact]
    public async Task A_dialer_not_on_the_allow_list_is_refused_with_the_refused_kind()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: false, timeout.Token);
        await using var dialer = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: false, timeout.Token);

        var error = await Assert.ThrowsAsync<PeerException>(() => dialer.DialAsync(accepter.NodeId, timeout.Token));

        Assert.Equal(PeerFailure.PeerRefused, error.Failure);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_peer_at_its_connection_limit_refuses_one_more_dialer_and_keeps_the_connection_it_has()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a1 = NodeIdentity.Generate();
        var a2 = NodeIdentity.Generate();

        // Two connections: the relay's control connection and one peer's.
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = _relay.Address, RelayId = _relay.Server.NodeId, DirectPaths = false, MaxConnections = 2 };
        options.AllowedDialers.Add(a1.NodeId);
        options.AllowedDialers.Add(a2.NodeId);
        await using var accepter = await PeerEndpoint.StartAsync(options, timeout.Token);
        await using var dialer1 = await _relay.StartPeerAsync(a1, directPaths: false, timeout.Token);
        await using var dialer2 = await PeerEndpoint.StartAsync(
            new PeerEndpointOptions { Identity = a2, Relay = _relay.Address, RelayId = _relay.Server.NodeId, DirectPaths = false, DialTimeout = TimeSpan.FromSeconds(2) },
            timeout.Token);

        var first = await dialer1.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);

        var error = await Assert.ThrowsAsync<PeerException>(() => dialer2.DialAsync(accepter.NodeId, timeout.Token));
        Assert.Equal(PeerFailure.TimedOut, error.Failure);
        await Echo.AssertAsync(first, accepted, 64 * 1024, timeout.Token);
    }

    [Fact]
    public void A_connection_limit_below_two_is_refused_with_a_reason()
    {
        var options = new PeerEndpointOptions { Identity = NodeIdentity.Generate(), Relay = _relay.Address, MaxConnections = 1 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Contains("at least 2 connections", error.Message, StringComparison.Ordinal);
    }
}
