using System.Net;
using QuicPipe.Peer;
using QuicPipe.Quic;

namespace QuicPipe.PeerBench;

/// <summary>One QUIC connection between A (dialer, sends) and B (accepter, receives), and what to dispose after.</summary>
internal sealed class ConnectedPair(QuicConnection a, QuicConnection b, params IAsyncDisposable[] owned) : IAsyncDisposable
{
    public QuicConnection A { get; } = a;

    public QuicConnection B { get; } = b;

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
        var endpointB = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), Transport(peerDefaults, identityB, acceptFrom: identityA.NodeId));
        var endpointA = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), Transport(peerDefaults, identityA, acceptFrom: null));
        var accept = endpointB.AcceptAsync(cancellationToken).AsTask();
        var a = await endpointA.ConnectAsync(
            endpointB.LocalEndPoint,
            new QuicClientConnectionOptions { ExpectedPeer = identityB.NodeId, Alpn = peerDefaults.Alpn },
            cancellationToken).ConfigureAwait(false);
        return new ConnectedPair(a, await accept.ConfigureAwait(false), endpointA, endpointB);
    }

    /// <summary>Two <see cref="PeerEndpoint"/>s registered with the relay; A dials B by NodeId, so every packet goes through it.</summary>
    public static async Task<ConnectedPair> RelayedAsync(IPEndPoint relay, NodeId relayId, CancellationToken cancellationToken)
    {
        var identityA = NodeIdentity.Generate();
        var optionsB = PeerOptions(NodeIdentity.Generate(), relay, relayId);
        optionsB.AllowedDialers.Add(identityA.NodeId);
        var peerB = await PeerEndpoint.StartAsync(optionsB, cancellationToken).ConfigureAwait(false);
        var peerA = await PeerEndpoint.StartAsync(PeerOptions(identityA, relay, relayId), cancellationToken).ConfigureAwait(false);
        var accept = peerB.AcceptAsync(cancellationToken).AsTask();
        var a = await peerA.DialAsync(peerB.NodeId, cancellationToken).ConfigureAwait(false);
        return new ConnectedPair(a, await accept.ConfigureAwait(false), peerA, peerB);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned)
        {
            await item.DisposeAsync().ConfigureAwait(false);
        }
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
