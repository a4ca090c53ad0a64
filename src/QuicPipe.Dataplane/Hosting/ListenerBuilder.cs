using System.Net;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// What <see cref="QuicPipeServerBuilder.ListenUdp(int, Action{UdpListenerBuilder})"/> and
/// <see cref="QuicPipeServerBuilder.ListenTcp(int, Action{TcpListenerBuilder})"/> hand to their configure
/// callback: the listener's addresses, and what serves them. Packages add their stages, handlers and services with
/// extension methods on <see cref="UdpListenerBuilder"/> or <see cref="TcpListenerBuilder"/>, so something that needs
/// UDP cannot be put on a TCP listener.
/// </summary>
public abstract class ListenerBuilder
{
    private readonly List<Func<ListenerContext, IListenerService>> _services = [];

    private protected ListenerBuilder(ListenerTransport transport, IReadOnlyList<IPEndPoint> endpoints)
    {
        Transport = transport;
        Endpoints = endpoints;
    }

    public ListenerTransport Transport { get; }

    public IReadOnlyList<IPEndPoint> Endpoints { get; }

    internal IReadOnlyList<Func<ListenerContext, IListenerService>> Services => _services;

    /// <summary>True when the listener has something to do; a listener with nothing is refused.</summary>
    internal virtual bool IsEmpty => _services.Count == 0;

    /// <summary>The service factories run at Build, in this order; a factory may throw to refuse a bad configuration.</summary>
    private protected void AddServiceCore(Func<ListenerContext, IListenerService> service)
    {
        ArgumentNullException.ThrowIfNull(service);
        _services.Add(service);
    }
}
