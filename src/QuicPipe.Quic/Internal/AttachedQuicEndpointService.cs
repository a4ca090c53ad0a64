using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Hosting;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Endpoints beside the listener's receive loops: each sends through a duplicate of its address's first socket and
/// receives what a stage of the listener hands it (<see cref="QuicListenerEndpoints.TryDeliver"/>).
/// </summary>
internal sealed class AttachedQuicEndpointService(ListenerContext context, QuicEndpointOptions options, MultiplexedConnectionDelegate handler, ILogger logger)
    : QuicEndpointService(context, options, handler, logger)
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var i = 0; i < Transport.Listeners.Count; i++)
            {
                var inbox = new QuicSharedSocket(Transport.Listeners[i].DuplicateSocketForSending());

                // Attach disposes the inbox it fails with.
                var endpoint = QuicEndpoint.Attach(inbox, Options);
                Feature.Set(i, endpoint, inbox);
                Serve(endpoint);
            }
        }
        catch
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
