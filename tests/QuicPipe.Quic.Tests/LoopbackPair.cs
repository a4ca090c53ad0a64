using System.Net;

namespace QuicPipe.Quic.Tests;

/// <summary>A server and a client endpoint on loopback, each with its own identity, pinned to each other.</summary>
internal sealed class LoopbackPair : IAsyncDisposable
{
    public LoopbackPair(IPAddress address, NodeId? serverPinsClient = null, Action<QuicEndpointOptions>? server = null, Action<QuicEndpointOptions>? client = null)
    {
        ServerIdentity = NodeIdentity.Generate();
        ClientIdentity = NodeIdentity.Generate();
        var serverOptions = new QuicEndpointOptions
        {
            Identity = ServerIdentity,
            AcceptIncoming = true,
            ExpectedClient = serverPinsClient ?? ClientIdentity.NodeId,
        };
        server?.Invoke(serverOptions);
        var clientOptions = new QuicEndpointOptions { Identity = ClientIdentity };
        client?.Invoke(clientOptions);
        Server = QuicEndpoint.Bind(new IPEndPoint(address, 0), serverOptions);
        Client = QuicEndpoint.Bind(new IPEndPoint(address, 0), clientOptions);
    }

    public NodeIdentity ServerIdentity { get; }

    public NodeIdentity ClientIdentity { get; }

    public QuicEndpoint Server { get; }

    public QuicEndpoint Client { get; }

    public Task<QuicConnection> ConnectAsync(NodeId expectedServer, CancellationToken cancellationToken) =>
        Client.ConnectAsync(Server.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = expectedServer }, cancellationToken);

    /// <summary>Connects and accepts: the client's and the server's side of one connection.</summary>
    public Task<(QuicConnection Client, QuicConnection Server)> ConnectPairAsync(CancellationToken cancellationToken) =>
        ConnectThroughAsync(Server.LocalEndPoint, cancellationToken);

    /// <summary>As <see cref="ConnectPairAsync"/>, with the client sending to <paramref name="via"/> (a forwarder standing in for a relay or a NAT).</summary>
    public async Task<(QuicConnection Client, QuicConnection Server)> ConnectThroughAsync(IPEndPoint via, CancellationToken cancellationToken)
    {
        var accept = Server.AcceptAsync(cancellationToken).AsTask();
        var client = await Client.ConnectAsync(via, new QuicClientConnectionOptions { ExpectedPeer = ServerIdentity.NodeId }, cancellationToken);
        return (client, await accept);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
