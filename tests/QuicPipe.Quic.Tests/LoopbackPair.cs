using System.Net;

namespace QuicPipe.Quic.Tests;

/// <summary>A server and a client endpoint on loopback, each with its own identity, pinned to each other.</summary>
internal sealed class LoopbackPair : IAsyncDisposable
{
    public LoopbackPair(IPAddress address, NodeId? serverPinsClient = null)
    {
        ServerIdentity = NodeIdentity.Generate();
        ClientIdentity = NodeIdentity.Generate();
        Server = QuicEndpoint.Bind(new IPEndPoint(address, 0), new QuicEndpointOptions
        {
            Identity = ServerIdentity,
            AcceptIncoming = true,
            ExpectedClient = serverPinsClient ?? ClientIdentity.NodeId,
        });
        Client = QuicEndpoint.Bind(new IPEndPoint(address, 0), new QuicEndpointOptions { Identity = ClientIdentity });
    }

    public NodeIdentity ServerIdentity { get; }

    public NodeIdentity ClientIdentity { get; }

    public QuicEndpoint Server { get; }

    public QuicEndpoint Client { get; }

    public Task<QuicConnection> ConnectAsync(NodeId expectedServer, CancellationToken cancellationToken) =>
        Client.ConnectAsync(Server.LocalEndPoint, new QuicClientConnectionOptions { ExpectedPeer = expectedServer }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
