using System.Net;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// What <see cref="QuicPipeServerBuilder.ListenUdp(int, Action{UdpListenerBuilder})"/> and
/// <see cref="QuicPipeServerBuilder.ListenTcp(int, Action{TcpListenerBuilder})"/> hand to their configure
/// callback: the listener's addresses and its handlers, in order. Handler packages add themselves with extension
/// methods on <see cref="UdpListenerBuilder"/> or <see cref="TcpListenerBuilder"/>, so a handler that needs UDP
/// cannot be put on a TCP listener.
/// </summary>
public abstract class ListenerBuilder
{
    private readonly List<Func<ListenerContext, IListenerHandler>> _handlers = [];

    private protected ListenerBuilder(ListenerTransport transport, IReadOnlyList<IPEndPoint> endpoints)
    {
        Transport = transport;
        Endpoints = endpoints;
    }

    public ListenerTransport Transport { get; }

    public IReadOnlyList<IPEndPoint> Endpoints { get; }

    internal IReadOnlyList<Func<ListenerContext, IListenerHandler>> Handlers => _handlers;

    /// <summary>The handler factories run at Build, in this order; a factory may throw to refuse a bad configuration.</summary>
    private protected void Add(Func<ListenerContext, IListenerHandler> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _handlers.Add(handler);
    }
}
