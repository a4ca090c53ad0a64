using Microsoft.AspNetCore.Connections;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>What Connections.Abstractions has for <see cref="IConnectionBuilder"/> and lacks for multiplexed connections.</summary>
public static class MultiplexedConnectionBuilderExtensions
{
    /// <summary>Ends the chain with <paramref name="handler"/>: middleware added after it is never reached.</summary>
    public static IMultiplexedConnectionBuilder Run(this IMultiplexedConnectionBuilder builder, MultiplexedConnectionDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(handler);
        return builder.Use(_ => handler);
    }
}
