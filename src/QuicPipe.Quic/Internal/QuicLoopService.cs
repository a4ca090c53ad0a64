using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Endpoints that run the listener's receive loops: one per address, receiving on the listener's socket on the
/// endpoint's own loop thread, where the listener's stages run in front of the endpoint's terminal step. One socket
/// per address: a connection's packets must all reach the endpoint that holds it, which SO_REUSEPORT's spreading of
/// 4-tuples (and a migration's new one) would not guarantee.
/// </summary>
internal sealed class QuicLoopService(ListenerContext context, QuicEndpointOptions options, MultiplexedConnectionDelegate handler, ILogger logger)
    : QuicEndpointService(context, options, handler, logger), IUdpLoopOwner
{
    public void Run(UdpLoopContext loop, UdpBatchSocket socket, Func<PacketDelegate, PacketDelegate> pipeline)
    {
        if (loop.Loop > 0)
        {
            throw new InvalidOperationException($"{loop.Listener}: a QUIC endpoint runs one receive loop per address; set the listener's Threads to 1.");
        }

        Serve(QuicEndpoint.RunOn(socket, Options, (endpoint, terminal) =>
        {
            // Published before the stages are built: the connection lookup and path probe stages look it up.
            Feature.Set(loop.AddressIndex, endpoint);
            return pipeline(terminal);
        }));
    }
}
