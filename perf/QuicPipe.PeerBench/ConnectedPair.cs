using System.Net;
using QuicPipe.Mesh;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.PeerBench;

/// <summary>A node of the benchmark and the endpoint loop threads it started (its share of this process's CPU).</summary>
internal sealed record BenchNode(string Name, IReadOnlySet<int> LoopThreads);

/// <summary>One QUIC connection between A (dialer, sends) and B (accepter, receives), and what to dispose after.</summary>
internal sealed class ConnectedPair(QuicConnection a, QuicConnection b, params IAsyncDisposable[] owned) : IAsyncDisposable
{
    public QuicConnection A { get; } = a;

    public QuicConnection B { get; } = b;

    /// <summary>The nodes in path order, sender first.</summary>
    public IReadOnlyList<BenchNode> Nodes { get; private init; } = [];

    /// <summary>
    /// Two plain endpoints connected directly on loopback, with the transport settings a <see cref="PeerEndpoint"/>
    /// gives its socket (ALPN, CID length, keep-alive, timeouts; windows and buffers are QuicEndpointOptions
    /// defaults in both), so the only difference from the relayed mode is the path.
    /// </summary>
    public static async Task<ConnectedPair> DirectAsync(CancellationToken cancellationToken)
    {
        var peerDefaults = new PeerEndpointOptions();
        var identityA = NodeIdentity.Generate();
        var identityB = NodeIdentity.Generate();
        var nodes = new NodeThreads();
        var endpointB = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), Transport(peerDefaults, identityB, acceptFrom: identityA.NodeId));
        nodes.Started("B");
        var endpointA = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), Transport(peerDefaults, identityA, acceptFrom: null));
        nodes.Started("A");
        var accept = endpointB.AcceptAsync(cancellationToken).AsTask();
        var a = await endpointA.ConnectAsync(
            endpointB.LocalEndPoint,
            new QuicClientConnectionOptions { ExpectedPeer = identityB.NodeId, Alpn = peerDefaults.Alpn },
            cancellationToken).ConfigureAwait(false);
        return new ConnectedPair(a, await accept.ConfigureAwait(false), endpointA, endpointB) { Nodes = nodes.InOrder("A", "B") };
    }

    /// <summary>Two <see cref="PeerEndpoint"/>s registered with the relay; A dials B by NodeId, so every packet goes through it.</summary>
    public static async Task<ConnectedPair> RelayedAsync(IPEndPoint relay, NodeId relayId, CancellationToken cancellationToken)
    {
        var identityA = NodeIdentity.Generate();
        var optionsB = PeerOptions(NodeIdentity.Generate(), relay, relayId);
        optionsB.AllowedDialers.Add(identityA.NodeId);
        var nodes = new NodeThreads();
        var peerB = await PeerEndpoint.StartAsync(optionsB, cancellationToken).ConfigureAwait(false);
        nodes.Started("D");
        var peerA = await PeerEndpoint.StartAsync(PeerOptions(identityA, relay, relayId), cancellationToken).ConfigureAwait(false);
        nodes.Started("A");
        var accept = peerB.AcceptAsync(cancellationToken).AsTask();
        var a = await peerA.DialAsync(peerB.NodeId, cancellationToken).ConfigureAwait(false);
        return new ConnectedPair(a, await accept.ConfigureAwait(false), peerA, peerB) { Nodes = nodes.InOrder("A", "D") };
    }

    /// <summary>
    /// Four peers on the relay linked in a line A-B-C-D (mesh neighbours); A reaches D through the circuit A-B-C-D,
    /// not through the relay's own route to D: every packet crosses three links, each through the relay, or each on its
    /// direct path when <paramref name="direct"/> (links are dialed like any peer connection and move when they can).
    /// Cells cross each link unprotected, switched by label, or inside the link's encryption when
    /// <paramref name="encryptedHops"/>.
    /// </summary>
    public static async Task<ConnectedPair> CircuitAsync(IPEndPoint relay, NodeId relayId, bool direct, bool encryptedHops, CancellationToken cancellationToken)
    {
        var identities = Enumerable.Range(0, 4).Select(_ => NodeIdentity.Generate()).ToArray();
        var owned = new List<IAsyncDisposable>();
        var nodes = new List<MeshNode>();
        var threads = new NodeThreads();
        for (var i = 0; i < 4; i++)
        {
            var neighbors = new[] { i - 1, i + 1 }.Where(n => n is >= 0 and < 4).Select(n => identities[n].NodeId).ToArray();
            var options = PeerOptions(identities[i], relay, relayId);
            options.DirectPaths = direct;
            MeshProtocol.AllowNeighbors(options, neighbors);
            var peer = await PeerEndpoint.StartAsync(options, cancellationToken).ConfigureAwait(false);
            var meshOptions = new MeshNodeOptions { AcceptCircuitsFrom = origin => origin == identities[0].NodeId, EncryptedHops = encryptedHops };
            meshOptions.Neighbors.UnionWith(neighbors);
            var mesh = MeshNode.Start(peer, meshOptions);
            threads.Started(((char)('A' + i)).ToString());
            nodes.Add(mesh);
            owned.Insert(0, peer);
            owned.Insert(0, mesh);
        }

        await nodes[1].WaitForLinksAsync([identities[0].NodeId, identities[2].NodeId], cancellationToken).ConfigureAwait(false);
        await nodes[2].WaitForLinksAsync([identities[1].NodeId, identities[3].NodeId], cancellationToken).ConfigureAwait(false);
        if (direct)
        {
            // Each link starts relayed and moves to its direct path once hole punching succeeds (about a second on loopback).
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        }

        var accept = nodes[3].AcceptAsync(cancellationToken).AsTask();
        var a = await nodes[0].DialAsync(identities[3].NodeId, cancellationToken).ConfigureAwait(false);
        return new ConnectedPair(a.Connection, (await accept.ConfigureAwait(false)).Connection, [.. owned]) { Nodes = threads.InOrder("A", "B", "C", "D") };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned)
        {
            await item.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Which loop threads each node started: those that appeared since the previous node.</summary>
    private sealed class NodeThreads
    {
        private readonly HashSet<int> _seen = ThreadCpu.LoopThreads();
        private readonly Dictionary<string, IReadOnlySet<int>> _byNode = [];

        public void Started(string node)
        {
            var now = ThreadCpu.LoopThreads();
            now.ExceptWith(_seen);
            _seen.UnionWith(now);
            _byNode[node] = now;
        }

        public BenchNode[] InOrder(params string[] names) => [.. names.Select(name => new BenchNode(name, _byNode[name]))];
    }

    private static QuicEndpointOptions Transport(PeerEndpointOptions peer, NodeIdentity identity, NodeId? acceptFrom) => new()
    {
        Identity = identity,
        AcceptIncoming = acceptFrom is not null,
        ExpectedClient = acceptFrom,
        ServerAlpn = peer.Alpn,
        ConnectionIdLength = peer.CidLength,
        KeepAliveInterval = peer.KeepAliveInterval,
        IdleTimeout = peer.IdleTimeout,
        HandshakeTimeout = peer.HandshakeTimeout,
    };

    // Bound to loopback: the benchmark never sends anywhere else.
    private static PeerEndpointOptions PeerOptions(NodeIdentity identity, IPEndPoint relay, NodeId relayId) => new()
    {
        Identity = identity,
        Relay = relay,
        RelayId = relayId,
        LocalEndPoint = new IPEndPoint(relay.Address, 0),
        DirectPaths = false, // the relayed mode measures the relay: the connection must not move to a direct path
    };
}
