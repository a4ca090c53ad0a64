using QuicPipe.Dataplane;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// The relay's route observers as one observer, handed to both the static-route loader and the CID registry.
/// The registry is built in the constructor, an offload joins once the relay has started: the
/// registry must see observers added later (a copy taken at construction would leave the offload out, and
/// registered routes would never reach the XDP map). Copy-on-write, so adding or removing one while the
/// registry notifies on another thread neither blocks nor breaks its enumeration; the price is that a removed
/// observer may still hear of a change already under way, which it must ignore.
/// </summary>
internal sealed class RouteObserverSet : IRouteObserver
{
    private readonly Lock _lock = new();
    private volatile IRouteObserver[] _observers = [];

    public void Add(IRouteObserver observer)
    {
        lock (_lock)
        {
            _observers = [.. _observers, observer];
        }
    }

    public void Remove(IRouteObserver observer)
    {
        lock (_lock)
        {
            _observers = _observers.Where(o => !ReferenceEquals(o, observer)).ToArray();
        }
    }

    public void OnRoutesSet(ReadOnlySpan<(ConnectionId Cid, PeerAddress Endpoint)> routes)
    {
        foreach (var observer in _observers)
        {
            observer.OnRoutesSet(routes);
        }
    }

    public void OnRoutesRemoved(ReadOnlySpan<ConnectionId> cids)
    {
        foreach (var observer in _observers)
        {
            observer.OnRoutesRemoved(cids);
        }
    }
}
