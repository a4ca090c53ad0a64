using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>What connection handlers on a server's listeners read from their context.</summary>
public static class ConnectionContextExtensions
{
    /// <summary>
    /// Fires when the server asks the handler to finish (it is stopping): the handler then ends the connection its own
    /// way. None for a context that has no such request (one made outside a server).
    /// </summary>
    public static CancellationToken CloseRequested(this BaseConnectionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
    }
}
