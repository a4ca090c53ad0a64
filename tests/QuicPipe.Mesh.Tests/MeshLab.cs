using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Peer;
using QuicPipe.Quic;
using QuicPipe.Relay;

namespace QuicPipe.Mesh.Tests;

/// <summary>
/// Real relays on 127.0.0.1 and mesh nodes on real peer endpoints registered with them, linked as the test says.
/// Direct paths are off: every link stays on its relay, so the circuit's hops are the only way between the ends.
/// </summary>
internal sealed class MeshLab : IAsyncDisposable
{
    private readonly List<RelayServer> _relays = [];
    private readonly Dictionary<string, (PeerEndpoint Peer, MeshNode Mesh)> _nodes = [];
    private readonly Dictionary<string, NodeIdentity> _identities = [];

    public MeshLab(int relays = 1)
    {
        for (var i = 0; i < relays; i++)
        {
            var options = new RelayServerOptions { Threads = 1 };
            options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)));
            var relay = new RelayServer(options);
            relay.Start();
            _relays.Add(relay);
        }
    }

    public NodeId Id(string name)
    {
        if (!_identities.TryGetValue(name, out var identity))
        {
            identity = NodeIdentity.Generate();
            _identities[name] = identity;
        }

        return identity.NodeId;
    }

    public MeshNode this[string name] => _nodes[name].Mesh;

    public PeerEndpoint Peer(string name) => _nodes[name].Peer;

    /// <summary>Starts <paramref name="name"/> on relay <paramref name="relay"/> with these neighbours; it accepts circuits from anyone.</summary>
    public async Task<MeshNode> StartAsync(string name, string[] neighbors, CancellationToken cancellationToken, int relay = 0, Action<MeshNodeOptions>? configure = null)
    {
        Id(name);
        var server = _relays[relay];
        var options = new PeerEndpointOptions { Identity = _identities[name], Relay = server.LocalAddresses[0].ToEndPoint(), RelayId = server.NodeId, DirectPaths = false };
        MeshProtocol.AllowNeighbors(options, neighbors.Select(Id));
        var peer = await PeerEndpoint.StartAsync(options, cancellationToken);
        var meshOptions = new MeshNodeOptions { AcceptCircuitsFrom = _ => true };
        foreach (var neighbor in neighbors)
        {
            meshOptions.Neighbors.Add(Id(neighbor));
        }

        configure?.Invoke(meshOptions);
        var mesh = MeshNode.Start(peer, meshOptions);
        _nodes[name] = (peer, mesh);
        return mesh;
    }

    /// <summary>
    /// Starts the diamond A-B-D, A-C-D (two ways from A to D, one through each middle node) and waits until A and D
    /// both have their two links.
    /// </summary>
    public async Task<(MeshNode A, MeshNode D)> StartDiamondAsync(CancellationToken cancellationToken, Action<MeshNodeOptions>? configureA = null, Action<MeshNodeOptions>? configureD = null)
    {
        var a = await StartAsync("A", ["B", "C"], cancellationToken, configure: configureA);
        await StartAsync("B", ["A", "D"], cancellationToken);
        await StartAsync("C", ["A", "D"], cancellationToken);
        var d = await StartAsync("D", ["B", "C"], cancellationToken, configure: configureD);
        await a.WaitForLinksAsync([Id("B"), Id("C")], cancellationToken);
        await d.WaitForLinksAsync([Id("B"), Id("C")], cancellationToken);
        return (a, d);
    }

    /// <summary>Starts the line A-B-C-D (one way from A to D), each node configured alike, and waits until B and C both have their two links.</summary>
    public async Task<(MeshNode A, MeshNode B, MeshNode C, MeshNode D)> StartLineAsync(CancellationToken cancellationToken, Action<MeshNodeOptions>? configure = null)
    {
        var a = await StartAsync("A", ["B"], cancellationToken, configure: configure);
        var b = await StartAsync("B", ["A", "C"], cancellationToken, configure: configure);
        var c = await StartAsync("C", ["B", "D"], cancellationToken, configure: configure);
        var d = await StartAsync("D", ["C"], cancellationToken, configure: configure);
        await b.WaitForLinksAsync([Id("A"), Id("C")], cancellationToken);
        await c.WaitForLinksAsync([Id("B"), Id("D")], cancellationToken);
        return (a, b, c, d);
    }

    /// <summary>Stops a node at once (its links see their connections end).</summary>
    public async Task StopAsync(string name)
    {
        var (peer, mesh) = _nodes[name];
        _nodes.Remove(name);
        await mesh.DisposeAsync();
        await peer.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (peer, mesh) in _nodes.Values)
        {
            await mesh.DisposeAsync();
            await peer.DisposeAsync();
        }

        foreach (var relay in _relays)
        {
            relay.Dispose();
        }
    }
}
