using Microsoft.AspNetCore.Connections;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels;

/// <summary>
/// The tunnels as connection handlers on a server builder's TCP listener: the server binds and accepts, and each
/// accepted connection reaches the tunnel's <c>OnConnectedAsync</c>. The tunnel object (<see cref="TcpForwarder"/>,
/// <see cref="HttpProxy"/>, <see cref="Socks5Proxy"/>) is published in the listener's features for its
/// address and counters. Proxy options are checked as the handler is added, before anything is bound, and set the
/// listener's connection limit and backlog.
/// </summary>
public static class TunnelServerBuilderExtensions
{
    /// <summary>Each local TCP connection becomes a QUIC stream over <paramref name="connection"/> to <paramref name="port"/> on the peer.</summary>
    public static TcpListenerBuilder UseTcpOverQuic(this TcpListenerBuilder listener, QuicConnection connection, int port) =>
        listener.UseTcpOverQuic(connection, new TcpForwarderOptions { TargetPort = port });

    /// <summary>Each local TCP connection becomes a QUIC stream over <paramref name="connection"/>, as <paramref name="options"/> say.</summary>
    public static TcpListenerBuilder UseTcpOverQuic(this TcpListenerBuilder listener, QuicConnection connection, TcpForwarderOptions options)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return listener.UseTcpOverQuic(_ => ValueTask.FromResult(connection), options);
    }

    /// <summary>
    /// Each local TCP connection becomes a QUIC stream over the connection <paramref name="connection"/> gives at that
    /// moment: a caller that re-dials a lost peer keeps the port open, and a TCP connection made meanwhile waits for
    /// the new QUIC connection (within <see cref="TcpForwarderOptions.ConnectTimeout"/>, else it is reset).
    /// </summary>
    public static TcpListenerBuilder UseTcpOverQuic(this TcpListenerBuilder listener, QuicConnectionProvider connection, TcpForwarderOptions options)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        listener.Backlog = options.Backlog;
        return listener.Run(context =>
        {
            var forwarder = TcpForwarder.CreateHandler(connection, options);
            forwarder.HostOn(context);
            context.Features.Set(forwarder);
            return forwarder.OnConnectedAsync;
        });
    }

    /// <summary>An HTTP CONNECT proxy to ports on peers, tunnelling through <paramref name="connector"/> (which stays the caller's).</summary>
    public static TcpListenerBuilder UseHttpProxy(this TcpListenerBuilder listener, PeerTunnelConnector connector, ProxyOptions? options = null) =>
        UseProxy(listener, connector, options, HttpProxy.CreateHandler);

    /// <summary>A SOCKS5 proxy to ports on peers, tunnelling through <paramref name="connector"/> (which stays the caller's).</summary>
    public static TcpListenerBuilder UseSocks5Proxy(this TcpListenerBuilder listener, PeerTunnelConnector connector, ProxyOptions? options = null) =>
        UseProxy(listener, connector, options, Socks5Proxy.CreateHandler);

    private static TcpListenerBuilder UseProxy<TProxy>(TcpListenerBuilder listener, PeerTunnelConnector connector, ProxyOptions? options, Func<PeerTunnelConnector, ProxyOptions, TProxy> create)
        where TProxy : PeerProxy
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(connector);
        options ??= new ProxyOptions();
        options.Validate();
        listener.MaxConnections = options.MaxConnections;
        listener.Backlog = options.Backlog;
        return listener.Run(context =>
        {
            var proxy = create(connector, options);
            proxy.HostOn(context);
            context.Features.Set(proxy);
            return (ConnectionDelegate)proxy.OnConnectedAsync;
        });
    }
}
