using System.Net;
using QuicPipe.Dataplane;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// A server that pins each client by the initial DCID it handed out (how a peer accepts dials signalled through
/// the relay): the right client with the right CID gets in; an unknown CID is refused unanswered; a client
/// holding a CID issued to someone else fails the pin.
/// </summary>
public class ClientSelectorTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Each_incoming_connection_is_pinned_to_the_NodeId_its_initial_DCID_was_issued_for()
    {
        using var timeout = new CancellationTokenSource(Limit);
        var alice = NodeIdentity.Generate();
        var mallory = NodeIdentity.Generate();
        var issued = new ConnectionId(Convert.FromHexString("0102030405060708090a0b0c"));
        await using var pair = new LoopbackPair(IPAddress.Loopback, server: o =>
        {
            o.ExpectedClientSelector = dcid => dcid.Equals(issued) ? alice.NodeId : null;
        });
        await using var aliceEndpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = alice });
        await using var malloryEndpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = mallory, HandshakeTimeout = TimeSpan.FromSeconds(1) });

        // Unknown CID: no answer at all, counted as refused.
        var unknown = new ConnectionId(Convert.FromHexString("ffffffffffffffffffffffff"));
        await Assert.ThrowsAsync<QuicConnectionException>(() => malloryEndpoint.ConnectAsync(pair.Server.LocalEndPoint, Options(pair, unknown), timeout.Token));
        Assert.True(pair.Server.RefusedConnections > 0);

        // Alice's CID presented by Mallory: the pin fails.
        var stolen = Task.Run(async () =>
        {
            var connection = await malloryEndpoint.ConnectAsync(pair.Server.LocalEndPoint, Options(pair, issued), timeout.Token);
            await connection.Closed.WaitAsync(timeout.Token);
        });
        await Assert.ThrowsAsync<QuicConnectionException>(() => stolen);

        // Alice with her CID: accepted, and the server sees her NodeId.
        var accept = pair.Server.AcceptAsync(timeout.Token).AsTask();
        var client = await aliceEndpoint.ConnectAsync(pair.Server.LocalEndPoint, Options(pair, issued), timeout.Token);
        var server = await accept;
        Assert.Equal(alice.NodeId, server.RemoteNodeId);
        await client.CloseAsync(0, timeout.Token);
    }

    private static QuicClientConnectionOptions Options(LoopbackPair pair, ConnectionId dcid) =>
        new() { ExpectedPeer = pair.ServerIdentity.NodeId, InitialDestinationConnectionId = dcid };
}
