using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Peer.Internal;
using QuicPipe.Quic;

namespace QuicPipe.Peer;

/// <summary>A peer on a server builder's UDP listener.</summary>
public static class PeerListenerBuilderExtensions
{
    /// <summary>
    /// Serves the listener's one address (one socket) as <paramref name="peer"/>: its relay session and every
    /// peer-to-peer connection share it. The whole peer, in the order a packet meets it, on the QUIC endpoint's
    /// loop thread:
    /// <list type="number">
    /// <item><c>RunQuicEndpoint</c>: the endpoint receives on the socket; each incoming connection (a signalled, allowed
    /// dialer's) passes the peer's middleware (path tracking, crossed dials) to <paramref name="connections"/>' handler,
    /// or, without one, waits for <see cref="PeerEndpoint.AcceptAsync(CancellationToken)"/>;</item>
    /// <item>the peer's lifetime on the listener (it stops before the endpoint);</item>
    /// <item><c>UseQuicHeaderParsing</c>: parse the header (our CID length);</item>
    /// <item><c>UseQuicConnectionLookup</c>: our CIDs to their connection;</item>
    /// <item><c>UsePathProbes</c>: answer and take path probes;</item>
    /// <item>the endpoint's terminal: to the connection, a signalled dialer's Initial to a new connection, the rest
    /// (hole-punch probes among them) to the peer's hole puncher.</item>
    /// </list>
    /// </summary>
    public static UdpListenerBuilder UsePeer(this UdpListenerBuilder listener, PeerEndpoint peer, Action<IMultiplexedConnectionBuilder>? connections = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(peer);
        if (listener.Endpoints.Count != 1)
        {
            throw new ArgumentException($"A peer has one socket: give its listener one address, not {listener.Endpoints.Count}.", nameof(listener));
        }

        // One socket: every packet of a connection must reach the one endpoint loop that holds it.
        listener.Threads = 1;
        return listener
            .RunQuicEndpoint(peer.EndpointOptions, incoming =>
            {
                incoming.Use(peer.Accepting);
                if (connections is null)
                {
                    incoming.Run(peer.QueueForAcceptAsync);
                }
                else
                {
                    connections(incoming);
                }
            })
            .AddService(context =>
            {
                peer.ComposeOn(context);
                return new PeerService(peer);
            })
            .UseQuicHeaderParsing(peer.CidLength)
            .UseQuicConnectionLookup()
            .UsePathProbes();
    }
}
