using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Quic;
using QuicPipe.Relay;

namespace QuicPipe.Peer.Tests;

/// <summary>A real <see cref="RelayServer"/> on 127.0.0.1 (one thread, a free port) and peers registered with it.</summary>
internal sealed class LoopbackRelay : IDisposable
{
    public LoopbackRelay()
    {
        var options = new RelayServerOptions { Threads = 1 };
        options.Listen.Add(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0)));
        Server = new RelayServer(options);
        Server.Start();
        Address = Server.LocalAddresses[0].ToEndPoint();
    }

    public RelayServer Server { get; }

    public IPEndPoint Address { get; }

    /// <summary>A peer endpoint registered with this relay (pinned), letting in <paramref name="allowed"/>.</summary>
    public Task<PeerEndpoint> StartPeerAsync(NodeIdentity identity, bool directPaths, CancellationToken cancellationToken, params NodeId[] allowed)
    {
        var options = new PeerEndpointOptions { Identity = identity, Relay = Address, RelayId = Server.NodeId, DirectPaths = directPaths };
        foreach (var id in allowed)
        {
            options.AllowedDialers.Add(id);
        }

        return PeerEndpoint.StartAsync(options, cancellationToken);
    }

    public void Dispose() => Server.Dispose();
}
