using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Mesh;
using QuicPipe.Peer;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The dataplane every peer command runs (<c>accept</c>, <c>dial</c>, <c>forward</c>, <c>expose</c>, <c>proxy</c>):
/// one server with one UDP listener, the peer's socket, composed with <see cref="PeerListenerBuilderExtensions.UsePeer"/>
/// (the QUIC endpoint receiving on it, header parsing, connection lookup, path probes; see docs/server-builder.md).
/// Once the server runs, the peer connects to the relay and registers.
/// </summary>
internal sealed class PeerServer : IAsyncDisposable
{
    private readonly QuicPipeServer _server;

    private PeerServer(QuicPipeServer server, PeerEndpoint peer)
    {
        _server = server;
        Peer = peer;
    }

    public PeerEndpoint Peer { get; }

    /// <summary>The peer's mesh node, when it has neighbours (<c>--neighbor</c>): circuits to and through it.</summary>
    public MeshNode? Mesh { get; private set; }

    /// <summary>The server under the peer: its loops are what <c>/healthz</c> watches.</summary>
    public QuicPipeServer Server => _server;

    /// <summary>
    /// Starts the server and the peer; <paramref name="connections"/> composes the handler of the peer's incoming
    /// connections (null: they wait for <see cref="PeerEndpoint.AcceptAsync(CancellationToken)"/>), and <paramref name="listeners"/> adds
    /// the command's other listeners (a VPN's TUN device), started before the peer's. Throws what the peer throws
    /// (<see cref="PeerException"/>: no relay, wrong relay, refused) or a listener's start throws, with nothing left bound.
    /// </summary>
    public static async Task<PeerServer> StartAsync(
        PeerEndpointOptions options,
        ILoggerFactory loggers,
        Action<IMultiplexedConnectionBuilder>? connections,
        Action<QuicPipeServerBuilder, PeerEndpoint>? listeners,
        bool encryptedHops,
        CancellationToken cancellationToken)
    {
        var peer = new PeerEndpoint(options);
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(loggers);
        listeners?.Invoke(builder, peer);
        builder.ListenUdp(peer.ListenEndPoint, udp => udp.UsePeer(peer, connections));
        var running = new PeerServer(builder.Build(), peer);
        try
        {
            await running._server.StartAsync(cancellationToken).ConfigureAwait(false);
            await peer.StartAsync(cancellationToken).ConfigureAwait(false);
            if (options.ProtocolDialers.TryGetValue(MeshProtocol.Alpn, out var neighbors) && neighbors.Count > 0)
            {
                // Circuits may end here from whoever may dial this node directly.
                var mesh = new MeshNodeOptions { AcceptCircuitsFrom = origin => options.AllowAnyDialer || options.AllowedDialers.Contains(origin), EncryptedHops = encryptedHops };
                mesh.Neighbors.UnionWith(neighbors);
                running.Mesh = MeshNode.Start(peer, mesh, loggers);
            }
        }
        catch
        {
            await running.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return running;
    }

    /// <summary>The peer stops first (its relay session and connections), then the server closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Mesh is not null)
        {
            await Mesh.DisposeAsync().ConfigureAwait(false);
        }

        await Peer.DisposeAsync().ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false);
    }
}
