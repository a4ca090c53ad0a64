using System.Net;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>A UDP listener being configured: the relay and its offloads add themselves here.</summary>
public sealed class UdpListenerBuilder : ListenerBuilder
{
    internal UdpListenerBuilder(IReadOnlyList<IPEndPoint> endpoints)
        : base(ListenerTransport.Udp, endpoints)
    {
    }

    /// <summary>Adds a handler, created at Build from the listener's context and started after those added before it.</summary>
    public UdpListenerBuilder Use(Func<ListenerContext, IListenerHandler> handler)
    {
        Add(handler);
        return this;
    }
}
