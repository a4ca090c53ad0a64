using System.Net;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>A TCP listener being configured: tunnels and proxies add themselves here.</summary>
public sealed class TcpListenerBuilder : ListenerBuilder
{
    internal TcpListenerBuilder(IPEndPoint endpoint)
        : base(ListenerTransport.Tcp, [endpoint])
    {
    }

    /// <summary>The one address the listener binds.</summary>
    public IPEndPoint Endpoint => Endpoints[0];

    /// <summary>Adds a service, created at Build from the listener's context and started after those added before it.</summary>
    public TcpListenerBuilder AddService(Func<ListenerContext, IListenerService> service)
    {
        AddServiceCore(service);
        return this;
    }
}
