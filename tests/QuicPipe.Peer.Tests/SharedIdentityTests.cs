using System.Net;
using QuicPipe.Lab;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// Two processes with one key at one relay: the relay keeps one control connection per NodeId, so the newer one
/// takes the routes. The older endpoint must stop and say so, not take them back (the two would trade the routes
/// forever, breaking both's connections at every switch). Its own reconnects are no takeover.
/// </summary>
public sealed class SharedIdentityTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task The_endpoint_a_second_one_with_its_key_replaced_fails_naming_it_and_does_not_take_the_routes_back()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var shared = NodeIdentity.Generate();
        var dialerIdentity = NodeIdentity.Generate();
        await using var first = await _relay.StartPeerAsync(shared, directPaths: false, timeout.Token);
        var waitingAccept = first.AcceptAsync(timeout.Token).AsTask();

        await using var second = await _relay.StartPeerAsync(shared, directPaths: false, timeout.Token, dialerIdentity.NodeId);

        var failure = await Assert.ThrowsAsync<PeerException>(() => first.Completion.WaitAsync(timeout.Token));
        Assert.Equal(PeerFailure.Replaced, failure.Failure);
        Assert.Contains($"from {second.PublicEndPoint} ", failure.Message, StringComparison.Ordinal);
        Assert.Contains("quicpipe keygen", failure.Message, StringComparison.Ordinal);
        Assert.Equal(PeerFailure.Replaced, (await Assert.ThrowsAsync<PeerException>(() => waitingAccept)).Failure);

        // No reconnect: nobody registers or connects to the relay while the two would otherwise trade the routes.
        var before = _relay.Server.Snapshot().Control!;
        await Task.Delay(Settle, timeout.Token);
        var after = _relay.Server.Snapshot().Control!;
        Assert.Equal(before.ConnectionsAccepted, after.ConnectionsAccepted);
        Assert.Equal(before.Registrations, after.Registrations);
        Assert.Equal(1, first.Registrations);
        Assert.False(second.Completion.IsCompleted);

        var dial = await Assert.ThrowsAsync<PeerException>(() => first.DialAsync(dialerIdentity.NodeId, timeout.Token));
        var accept = await Assert.ThrowsAsync<PeerException>(() => first.AcceptAsync(timeout.Token).AsTask());
        Assert.Equal(PeerFailure.Replaced, dial.Failure);
        Assert.Equal(PeerFailure.Replaced, accept.Failure);
        Assert.Equal(failure.Message, dial.Message);

        // The second one owns the routes and works.
        await using var dialer = await _relay.StartPeerAsync(dialerIdentity, directPaths: false, timeout.Token);
        var connection = await dialer.DialAsync(shared.NodeId, timeout.Token);
        var accepted = await second.AcceptAsync(timeout.Token);
        await Echo.AssertAsync(connection, accepted, 64 * 1024, timeout.Token);
    }

    [Fact]
    public async Task Reconnecting_after_the_relay_path_went_dark_replaces_only_our_own_old_connection_and_is_no_takeover()
    {
        await using var relay = new RelayControlFixture();
        using var path = new UdpForwarder(relay.Address);
        using var timeout = new CancellationTokenSource(Limit);
        await using var peer = await PeerEndpoint.StartAsync(
            new PeerEndpointOptions
            {
                Identity = NodeIdentity.Generate(),
                Relay = path.FrontEndPoint,
                RelayId = relay.Identity.NodeId,
                LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                DirectPaths = false,
                RelayKeepAliveInterval = TimeSpan.FromMilliseconds(200),
                DialTimeout = TimeSpan.FromSeconds(2),
                MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
            },
            timeout.Token);

        // Dark long enough for the peer to give the connection up, too short for the relay to: the relay still holds
        // it when the new one arrives, and closes it as replaced (to an endpoint that dropped it already).
        path.BlackHole = true;
        await Task.Delay(TimeSpan.FromSeconds(1.5), timeout.Token);
        path.BlackHole = false;
        await RelayControlFixture.EventuallyAsync(() => peer.Registrations >= 2, "the peer registered again");
        await RelayControlFixture.EventuallyAsync(() => relay.Service.Snapshot().Sessions == 1, "the relay kept one session");

        await Task.Delay(Settle, timeout.Token);
        Assert.False(peer.Completion.IsCompleted, peer.Completion.Exception?.InnerException?.Message);
        // Every registration the relay took was one of ours (a starved test host can make the peer give up the new
        // connection once more, which adds one to both), and none of them took our place. The relay may also have
        // accepted a connection that never registered: a dial the peer gave up on at the moment its handshake
        // completed at the relay.
        Assert.True(peer.Registrations >= 2, $"{peer.Registrations} registrations");
        var stats = relay.Service.Snapshot();
        Assert.Equal(peer.Registrations, stats.Registrations);
        Assert.True(stats.ConnectionsAccepted >= stats.Registrations, $"{stats.ConnectionsAccepted} connections for {stats.Registrations} registrations");
    }
}
