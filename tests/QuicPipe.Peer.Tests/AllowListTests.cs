using QuicPipe.Protocol;
using QuicPipe.Quic;
using QuicPipe.Relay;
using Xunit;

namespace QuicPipe.Peer.Tests;

/// <summary>A relay with an allow-list (<c>relay --peers</c>) serves the NodeIds on it and tells the others why not.</summary>
public sealed class AllowListTests : IDisposable
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)(i * 5)).ToArray();
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-allow-").FullName;

    [Fact]
    public async Task A_NodeId_off_the_list_is_refused_with_NOT_ALLOWED_and_one_on_it_registers()
    {
        var allowed = NodeIdentity.Generate();
        var stranger = NodeIdentity.Generate();
        await using var relay = new RelayControlFixture(allowList: PeerAllowList.Load(Write(allowed.NodeId + "\n")));

        var refused = await Assert.ThrowsAsync<RelayControlException>(() => relay.ConnectAsync(stranger));

        Assert.Equal(RelayErrorCode.NotAllowed, refused.Code);
        Assert.Contains($"NodeId {stranger.NodeId} is not in the relay's allow-list", refused.Message, StringComparison.Ordinal);
        var (client, _) = await relay.ConnectAsync(allowed);
        var registration = await client.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        Assert.Equal(8, registration.CidCount);
        Assert.Equal(1, relay.Service.Snapshot().RefusedNotAllowed);
    }

    [Fact]
    public async Task A_reload_that_drops_a_NodeId_ends_its_routes_and_its_connection()
    {
        var kept = NodeIdentity.Generate();
        var dropped = NodeIdentity.Generate();
        var path = Write(kept.NodeId + "\n" + dropped.NodeId + "\n");
        var list = PeerAllowList.Load(path);
        await using var relay = new RelayControlFixture(allowList: list);
        var (keptClient, _) = await relay.ConnectAsync(kept);
        var (droppedClient, _) = await relay.ConnectAsync(dropped);
        await keptClient.RegisterDerivedAsync(Key, 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        await droppedClient.RegisterDerivedAsync(Key.Reverse().ToArray(), 1, 8, TimeSpan.FromMinutes(1), RelayControlFixture.Timeout());
        Assert.Equal(16, relay.Table.Count);

        File.WriteAllText(path, kept.NodeId + "\n");
        list.Reload();
        relay.Service.RevokeDisallowed();

        await droppedClient.Closed.WaitAsync(RelayControlFixture.Limit);
        Assert.Equal(RelayProtocol.CloseNotAllowed, droppedClient.CloseErrorCode);
        Assert.Equal(8, relay.Table.Count);
        Assert.Equal(8, relay.Registry.CidsOf(kept.NodeId).Count);
        Assert.Empty(relay.Registry.CidsOf(dropped.NodeId));
        Assert.False(keptClient.Closed.IsCompleted);
    }

    private string Write(string text)
    {
        var path = Path.Combine(_directory, "peers");
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
