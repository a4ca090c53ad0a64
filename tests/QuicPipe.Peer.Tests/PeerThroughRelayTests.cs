using System.Net;
using QuicPipe.Dataplane;
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
    private readonly RelayServer _relay;
    private readonly IPEndPoint _relayAddress;

    public PeerThroughRelayTests()
    {
        var options = new RelayOptions { Threads = 1 };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)));
        _relay = new RelayServer(options);
        _relay.Start();
        _relayAddress = _relay.LocalAddresses[0].ToEndPoint();
    }

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task Two_dialers_reach_one_accepter_and_each_connection_is_pinned_to_its_dialer()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a1 = NodeIdentity.Generate();
        var a2 = NodeIdentity.Generate();
        await using var accepter = await StartAsync(NodeIdentity.Generate(), timeout.Token, a1.NodeId, a2.NodeId);
        await using var dialer1 = await StartAsync(a1, timeout.Token);
        await using var dialer2 = await StartAsync(a2, timeout.Token);

        var connections = await Task.WhenAll(dialer1.DialAsync(accepter.NodeId, timeout.Token), dialer2.DialAsync(accepter.NodeId, timeout.Token));
        var accepted = new[] { await accepter.AcceptAsync(timeout.Token), await accepter.AcceptAsync(timeout.Token) };

        Assert.Equal(new[] { a1.NodeId, a2.NodeId }.OrderBy(n => n.ToString()), accepted.Select(c => c.RemoteNodeId!.Value).OrderBy(n => n.ToString()));
        Assert.All(connections, c => Assert.Equal(_relayAddress, c.RemoteEndPoint));
        foreach (var connection in connections)
        {
            var server = accepted.Single(s => s.RemoteNodeId == (connection == connections[0] ? a1.NodeId : a2.NodeId));
            await Echo.AssertAsync(connection, server, 256 * 1024, timeout.Token);
        }

        Assert.True(_relay.Snapshot().Packets.Forwarded > 0);
    }

    [Fact]
    public async Task A_third_identity_cannot_take_the_accepters_CIDs_and_the_accepters_traffic_is_unaffected()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        await using var accepter = await StartAsync(b, timeout.Token, a.NodeId);
        await using var dialer = await StartAsync(a, timeout.Token);
        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);

        // Mallory registers, as explicit CIDs, every CID the relay routes to B.
        var stolen = _relay.Registry.CidsOf(b.NodeId);
        Assert.NotEmpty(stolen);
        await using var mallory = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = NodeIdentity.Generate() });
        await using var control = await RelayControlClient.ConnectAsync(mallory, _relayAddress, _relay.NodeId, timeout.Token);
        var refused = await Assert.ThrowsAsync<RelayControlException>(() => control.RegisterExplicitAsync([.. stolen.Take(4)], TimeSpan.FromMinutes(1), timeout.Token));

        Assert.Equal(RelayErrorCode.CidOwnedByOther, refused.Code);
        await Echo.AssertAsync(connection, accepted, 1024 * 1024, timeout.Token);
    }

    [Fact]
    public async Task Dialing_a_NodeId_that_is_not_registered_fails_with_a_clear_error_at_once()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var dialer = await StartAsync(NodeIdentity.Generate(), timeout.Token);
        var stranger = NodeIdentity.Generate().NodeId;

        var error = await Assert.ThrowsAsync<PeerException>(() => dialer.DialAsync(stranger, timeout.Token));

        Assert.Contains(stranger.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Equal(PeerFailure.PeerUnreachable, error.Failure);
    }

    [Fact]
    public async Task A_dialer_not_on_the_allow_list_is_refused_with_the_refused_kind()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var accepter = await StartAsync(NodeIdentity.Generate(), timeout.Token);
        await using var dialer = await StartAsync(NodeIdentity.Generate(), timeout.Token);

        var error = await Assert.ThrowsAsync<PeerException>(() => dialer.DialAsync(accepter.NodeId, timeout.Token));

        Assert.Equal(PeerFailure.PeerRefused, error.Failure);
        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
    }

    private Task<PeerEndpoint> StartAsync(NodeIdentity identity, CancellationToken cancellationToken, params NodeId[] allowed)
    {
        var options = new PeerEndpointOptions { Identity = identity, Relay = _relayAddress, RelayId = _relay.NodeId, DirectPaths = false };
        foreach (var id in allowed)
        {
            options.AllowedDialers.Add(id);
        }

        return PeerEndpoint.StartAsync(options, cancellationToken);
    }
}
