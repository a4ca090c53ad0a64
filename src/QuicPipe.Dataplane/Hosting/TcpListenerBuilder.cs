using System.Net;
using Microsoft.AspNetCore.Connections;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A TCP listener being configured: how many clients it serves at once and its backlog, and the handler each
/// accepted connection reaches as a <see cref="ConnectionContext"/> (middleware with <see cref="Use"/>, the handler
/// with <see cref="Run(ConnectionDelegate)"/>: Kestrel's <c>ListenOptions</c> shape). The server binds the socket and
/// accepts; tunnels and proxies add themselves as the handler.
/// </summary>
public sealed class TcpListenerBuilder : ListenerBuilder
{
    private readonly List<Func<ConnectionDelegate, ConnectionDelegate>> _middleware = [];
    private Func<ListenerContext, ConnectionDelegate>? _handler;

    internal TcpListenerBuilder(IPEndPoint endpoint)
        : base(ListenerTransport.Tcp, [endpoint])
    {
    }

    /// <summary>The one address the listener binds.</summary>
    public IPEndPoint Endpoint => Endpoints[0];

    /// <summary>Listen backlog: clients beyond <see cref="MaxConnections"/> wait there.</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>Clients served at once; at the limit the listener stops accepting until one ends.</summary>
    public int MaxConnections { get; set; } = int.MaxValue;

    internal override bool IsEmpty => base.IsEmpty && _handler is null;

    /// <summary>Adds connection middleware (<c>next =&gt; context =&gt; ...</c>), running before those added after it.</summary>
    public TcpListenerBuilder Use(Func<ConnectionDelegate, ConnectionDelegate> middleware)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        _middleware.Add(middleware);
        return this;
    }

    /// <summary>Sets the handler every accepted connection reaches (after the middleware).</summary>
    public TcpListenerBuilder Run(ConnectionDelegate handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Run(_ => handler);
    }

    /// <summary>
    /// Sets the handler, made at Build from the listener's context: a handler object publishes itself in the
    /// listener's features there (for its counters, or its address once bound).
    /// </summary>
    public TcpListenerBuilder Run(Func<ListenerContext, ConnectionDelegate> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_handler is not null)
        {
            throw new InvalidOperationException($"The TCP listener on {Endpoint} already has a handler: one per listener.");
        }

        _handler = handler;
        return this;
    }

    /// <summary>Adds a service, created at Build from the listener's context and started after those added before it.</summary>
    public TcpListenerBuilder AddService(Func<ListenerContext, IListenerService> service)
    {
        AddServiceCore(service);
        return this;
    }

    /// <summary>The middleware wrapped around the handler, first added outermost; null without a handler.</summary>
    internal ConnectionDelegate? BuildHandler(ListenerContext context)
    {
        if (_handler is null)
        {
            return null;
        }

        var app = _handler(context) ?? throw new InvalidOperationException($"{context}: the handler factory returned null.");
        for (var i = _middleware.Count - 1; i >= 0; i--)
        {
            app = _middleware[i](app);
        }

        return app;
    }
}
