using QuicPipe.Lab;
using QuicPipe.Peer.Diagnostics;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// The peer's meter (QuicPipe.Peer.Paths) and the relay's control meter (QuicPipe.Relay.Control) report what a dial
/// through a real relay did: sessions, registrations, signals, connections by path kind.
/// </summary>
public sealed class PeerMetricsTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Fact]
    public async Task A_relayed_dial_shows_in_the_peer_and_relay_control_meters()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: false, timeout.Token, a.NodeId);
        await using var dialer = await _relay.StartPeerAsync(a, directPaths: false, timeout.Token);
        using var control = new MeterReader(_relay.Server.Router.ControlMetrics!.Meter);
        using var dialerPaths = new MeterReader(dialer.Metrics.Meter);
        using var accepterPaths = new MeterReader(accepter.Metrics.Meter);
        Assert.Equal(PeerPathMetrics.MeterName, dialer.Metrics.Meter.Name);

        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        var accepted = await accepter.AcceptAsync(timeout.Token);

        Assert.Equal(1, dialerPaths.Read("quicpipe.peer.connections", "path=relayed"));
        Assert.Equal(0, dialerPaths.Read("quicpipe.peer.connections", "path=direct"));
        Assert.True(SpinWait.SpinUntil(() => accepterPaths.Read("quicpipe.peer.connections", "path=relayed") == 1, Limit));
        Assert.Equal(1, dialerPaths.Read("quicpipe.peer.registrations"));
        Assert.Equal(0, dialerPaths.Read("quicpipe.peer.path_changes", "path=direct"));
        Assert.Equal(0, dialerPaths.Read("quicpipe.peer.punch.pings_sent"));

        var stats = _relay.Server.Router.Control.Snapshot();
        Assert.Equal(2, control.Read("quicpipe.relay.control.sessions"));
        Assert.Equal(stats.Registrations, control.Read("quicpipe.relay.control.registrations"));
        Assert.True(stats.Registrations >= 2);
        Assert.True(control.Read("quicpipe.relay.control.signals", "outcome=delivered") >= 1);
        Assert.Equal(2, control.Read("quicpipe.relay.registry.identities"));
        Assert.Equal(stats.Registry.Cids, control.Read("quicpipe.relay.registry.cids"));

        await connection.CloseAsync(0, "done", timeout.Token);
        Assert.True(SpinWait.SpinUntil(() => dialerPaths.Read("quicpipe.peer.connections", "path=relayed") == 0, Limit));
        GC.KeepAlive(accepted);
    }

    [Fact]
    public async Task A_move_to_a_direct_path_is_counted_and_the_connection_shows_as_direct()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var a = NodeIdentity.Generate();
        await using var accepter = await _relay.StartPeerAsync(NodeIdentity.Generate(), directPaths: true, timeout.Token, a.NodeId);
        await using var dialer = await _relay.StartPeerAsync(a, directPaths: true, timeout.Token);
        using var paths = new MeterReader(dialer.Metrics.Meter);

        var connection = await dialer.DialAsync(accepter.NodeId, timeout.Token);
        _ = await accepter.AcceptAsync(timeout.Token);

        // On loopback both "NATs" allow it: the connection moves within moments.
        Assert.True(SpinWait.SpinUntil(() => paths.Read("quicpipe.peer.path_changes", "path=direct") >= 1, Limit));
        Assert.True(SpinWait.SpinUntil(() => paths.Read("quicpipe.peer.connections", "path=direct") == 1, Limit));
        Assert.Equal(0, paths.Read("quicpipe.peer.connections", "path=relayed"));
        Assert.True(paths.Read("quicpipe.peer.punch.pings_sent") >= 1);
        GC.KeepAlive(connection);
    }
}
