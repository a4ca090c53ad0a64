using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// The tunnels as services on a server builder's TCP listener. Each starts the tunnel's own <c>Start</c> on the
/// listener's address when the server starts, publishes the running object (<see cref="TcpForwarder"/>,
/// <see cref="HttpConnectProxy"/>, <see cref="Socks5Proxy"/>) in the listener's features, and disposes it when the
/// server stops. Proxy options are checked as the handler is added, before anything is bound.
/// </summary>
public static class TunnelServerBuilderExtensions
{
    /// <summary>Each local TCP connection becomes a QUIC stream over <paramref name="connection"/> to <paramref name="port"/> on the peer.</summary>
    public static TcpListenerBuilder UseTcpOverQuic(this TcpListenerBuilder listener, QuicConnection connection, int port) =>
        listener.UseTcpOverQuic(connection, new TcpForwarderOptions { TargetPort = port });

    /// <summary>Each local TCP connection becomes a QUIC stream over <paramref name="connection"/>, as <paramref name="options"/> say.</summary>
    public static TcpListenerBuilder UseTcpOverQuic(this TcpListenerBuilder listener, QuicConnection connection, TcpForwarderOptions options)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        return listener.AddService(context => new TcpService<TcpForwarder>(context, endpoint => TcpForwarder.Start(connection, endpoint, options)));
    }

    /// <summary>An HTTP CONNECT proxy to ports on peers, tunnelling through <paramref name="connector"/> (which stays the caller's).</summary>
    public static TcpListenerBuilder UseHttpConnectProxy(this TcpListenerBuilder listener, PeerTunnelConnector connector, ProxyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(connector);
        var checkedOptions = Checked(options);
        return listener.AddService(context => new TcpService<HttpConnectProxy>(context, endpoint => HttpConnectProxy.Start(connector, endpoint, checkedOptions)));
    }

    /// <summary>A SOCKS5 proxy to ports on peers, tunnelling through <paramref name="connector"/> (which stays the caller's).</summary>
    public static TcpListenerBuilder UseSocks5Proxy(this TcpListenerBuilder listener, PeerTunnelConnector connector, ProxyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(connector);
        var checkedOptions = Checked(options);
        return listener.AddService(context => new TcpService<Socks5Proxy>(context, endpoint => Socks5Proxy.Start(connector, endpoint, checkedOptions)));
    }

    private static ProxyOptions Checked(ProxyOptions? options)
    {
        options ??= new ProxyOptions();
        options.Validate();
        return options;
    }
}
