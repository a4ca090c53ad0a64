using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Hosting.Internal;

/// <summary>
/// Makes a built server's listeners at Build: for each <see cref="ListenerBuilder"/> its <see cref="ListenerRuntime"/>
/// (<see cref="CreateRuntime"/> maps each builder type to its runtime) and the services its factories create. Nothing
/// is bound yet: that is the runtimes' start.
/// </summary>
/// <param name="services">The host's services, which each listener's context carries.</param>
/// <param name="loggerFactory">The host's logger factory, for runtimes that log under their own categories.</param>
/// <param name="logger">The server's logger, for runtimes that log under it.</param>
internal sealed class ListenerRuntimeFactory(IServiceProvider services, ILoggerFactory loggerFactory, ILogger logger)
{
    /// <summary>
    /// One runtime per builder, in order. If a runtime or a service factory throws, every runtime made so far is
    /// disposed (with the services it got) before the exception goes on, so a failed Build keeps nothing.
    /// </summary>
    public ListenerRuntime[] CreateAll(IReadOnlyList<ListenerBuilder> builders)
    {
        var listeners = new List<ListenerRuntime>();
        try
        {
            foreach (var builder in builders)
            {
                var context = new ListenerContext(builder.Transport, builder.Endpoints, services);
                var listenerServices = new List<IListenerService>();

                // Added before its factories run, so a factory that throws still gets the earlier ones disposed.
                var runtime = CreateRuntime(builder, context, listenerServices);
                listeners.Add(runtime);
                foreach (var factory in builder.Services)
                {
                    listenerServices.Add(factory(context) ?? throw new InvalidOperationException($"{context}: a service factory returned null."));
                }

                // After the services: a handler may find what they published at Build.
                (runtime as TcpListenerRuntime)?.BuildHandler();
            }
        }
        catch
        {
            // Nothing is bound before start, so disposing here only releases what constructors took.
            for (var i = listeners.Count - 1; i >= 0; i--)
            {
                listeners[i].DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            throw;
        }

        return [.. listeners];
    }

    /// <summary>
    /// The runtime for one builder: a new transport's builder type gets its case here. The runtime gets
    /// <paramref name="listenerServices"/> still empty: the builder's service factories fill it after this returns.
    /// </summary>
    private ListenerRuntime CreateRuntime(ListenerBuilder builder, ListenerContext context, IReadOnlyList<IListenerService> listenerServices) => builder switch
    {
        UdpListenerBuilder udp => new UdpListenerRuntime(udp, context, listenerServices, loggerFactory),
        TcpListenerBuilder tcp => new TcpListenerRuntime(tcp, context, listenerServices, logger),
        TunListenerBuilder tun => new TunListenerRuntime(tun, context, listenerServices, loggerFactory),
        _ => throw new InvalidOperationException($"{context}: no transport for {builder.GetType().Name}."),
    };
}
