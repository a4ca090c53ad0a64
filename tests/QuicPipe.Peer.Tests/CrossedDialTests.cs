using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>Two peers that dial each other at the same moment end up with one connection, the same on both sides.</summary>
public sealed class CrossedDialTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly LoopbackRelay _relay = new();

    public void Dispose() => _relay.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Crossed_dials_keep_exactly_one_connection_the_one_the_lower_NodeId_dialed(int round)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var one = NodeIdentity.Generate();
        var two = NodeIdentity.Generate();
        await using var peerOne = await _relay.StartPeerAsync(one, directPaths: false, timeout.Token, two.NodeId);
        await using var peerTwo = await _relay.StartPeerAsync(two, directPaths: false, timeout.Token, one.NodeId);

        var dials = await Task.WhenAll(peerOne.DialAsync(two.NodeId, timeout.Token), peerTwo.DialAsync(one.NodeId, timeout.Token));

        var (first, second) = one.NodeId.Bytes.SequenceCompareTo(two.NodeId.Bytes) < 0 ? (0, 1) : (1, 0);
        Assert.False(dials[first].IsServer, $"round {round}: the lower NodeId's own dial is the one kept");
        Assert.True(dials[second].IsServer, $"round {round}: the other side got that connection as its dial result");
        Assert.Equal(two.NodeId, dials[0].RemoteNodeId);
        Assert.Equal(one.NodeId, dials[1].RemoteNodeId);
        await Echo.AssertAsync(dials[first], dials[second], 64 * 1024, timeout.Token);

        // No second connection: nothing waits to be accepted on either side.
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        quiet.CancelAfter(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await peerOne.AcceptAsync(quiet.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await peerTwo.AcceptAsync(quiet.Token));
    }

    [Fact]
    public async Task When_one_side_lets_nobody_in_its_own_dial_still_wins_and_no_second_connection_is_made()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var one = NodeIdentity.Generate();
        var two = NodeIdentity.Generate();
        await using var peerOne = await _relay.StartPeerAsync(one, directPaths: false, timeout.Token, two.NodeId);
        await using var peerTwo = await _relay.StartPeerAsync(two, directPaths: false, timeout.Token); // lets nobody in

        var fromOne = peerOne.DialAsync(two.NodeId, timeout.Token);
        var fromTwo = peerTwo.DialAsync(one.NodeId, timeout.Token);

        // Two's dial succeeds whoever sorts first: two does not accept reverse dials, so one never refuses it as crossed.
        var connection = await fromTwo;
        Assert.False(connection.IsServer);
        Assert.Equal(one.NodeId, connection.RemoteNodeId);

        // One's dial is refused by two, unless two's request reached one first: then it completes with two's connection.
        try
        {
            var shared = await fromOne;
            Assert.True(shared.IsServer);
            Assert.Equal(two.NodeId, shared.RemoteNodeId);
            await Echo.AssertAsync(connection, shared, 64 * 1024, timeout.Token);
        }
        catch (PeerException refused)
        {
            Assert.Contains("refused", refused.Message, StringComparison.Ordinal);
            Assert.Equal(two.NodeId, (await peerOne.AcceptAsync(timeout.Token)).RemoteNodeId);
        }
    }
}
