using QuicPipe.Quic;
using QuicPipe.Relay.Control;
using Xunit;

namespace QuicPipe.Peer.Tests;

public class SignalTests
{
    [Fact]
    public async Task A_signal_reaches_its_recipient_with_the_senders_NodeId()
    {
        await using var relay = new RelayControlFixture();
        var a = NodeIdentity.Generate();
        var b = NodeIdentity.Generate();
        var (fromA, _) = await relay.ConnectAsync(a);
        var (toB, _) = await relay.ConnectAsync(b);

        await fromA.SignalAsync(b.NodeId, "dial me"u8.ToArray(), RelayControlFixture.Timeout());
        var signal = await toB.Signals.ReadAsync(RelayControlFixture.Timeout());

        Assert.Equal(a.NodeId, signal.From);
        Assert.Equal("dial me"u8.ToArray(), signal.Payload.ToArray());
        Assert.Equal(1, relay.Service.Snapshot().SignalsDelivered);
    }

    [Fact]
    public async Task A_signal_to_a_node_that_is_not_connected_fails_at_once_naming_it()
    {
        await using var relay = new RelayControlFixture();
        var (client, _) = await relay.ConnectAsync();
        var nobody = NodeIdentity.Generate().NodeId;
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<RelayControlException>(() => client.SignalAsync(nobody, new byte[10], RelayControlFixture.Timeout()));

        Assert.Equal(RelayErrorCode.UnknownNode, error.Code);
        Assert.Contains(nobody.ToString(), error.Message, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "an unknown recipient is answered at once, not after a timeout");
        Assert.Equal(1, relay.Service.Snapshot().SignalsUnknownNode);
    }

    [Fact]
    public async Task Signals_beyond_the_rate_limit_are_refused()
    {
        await using var relay = new RelayControlFixture(control: new RelayControlOptions { SignalsPerSecond = 0.1, SignalBurst = 3 });
        var b = NodeIdentity.Generate();
        var (a, _) = await relay.ConnectAsync();
        await relay.ConnectAsync(b);

        for (var i = 0; i < 3; i++)
        {
            await a.SignalAsync(b.NodeId, new byte[1], RelayControlFixture.Timeout());
        }

        var error = await Assert.ThrowsAsync<RelayControlException>(() => a.SignalAsync(b.NodeId, new byte[1], RelayControlFixture.Timeout()));
        Assert.Equal(RelayErrorCode.RateLimited, error.Code);
    }

    [Fact]
    public async Task An_oversize_payload_is_refused_before_it_is_sent()
    {
        await using var relay = new RelayControlFixture();
        var (client, _) = await relay.ConnectAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => client.SignalAsync(relay.Identity.NodeId, new byte[4097], RelayControlFixture.Timeout()));
    }
}
