using QuicPipe.Dataplane.Diagnostics;

namespace QuicPipe.Dataplane.Hosting;

/// <summary>
/// A UDP listener's bound sockets, as the server publishes them in the listener's features once bound: services
/// that live on them (a QUIC endpoint sending from the listener's address, an XDP program watching it) and
/// applications (stats) find them here.
/// </summary>
public sealed class UdpTransport
{
    // Replaced, never changed in place: a reader (a liveness watcher, a metrics scrape) may enumerate it on another
    // thread while the listeners are disposed.
    private volatile UdpListener[] _listeners;

    internal UdpTransport(IReadOnlyList<UdpListener> listeners)
    {
        _listeners = [.. listeners];
    }

    /// <summary>One listener per address, in the order of <see cref="ListenerContext.Endpoints"/>; empty once they are disposed.</summary>
    public IReadOnlyList<UdpListener> Listeners => _listeners;

    /// <summary>The bound addresses (ephemeral ports resolved), in the order of <see cref="ListenerContext.Endpoints"/>.</summary>
    public IReadOnlyList<PeerAddress> LocalAddresses => _listeners.Select(l => l.LocalAddress).ToArray();

    public bool GsoActive => _listeners is { Length: > 0 } listeners && listeners.All(l => l.GsoActive);

    public bool GroActive => _listeners is { Length: > 0 } listeners && listeners.All(l => l.GroActive);

    /// <summary>Whether each receive loop of every socket still runs (see <see cref="LoopLiveness"/>).</summary>
    public IReadOnlyList<LoopLiveness> Liveness => _listeners.SelectMany(l => l.Liveness).ToArray();

    /// <summary>Adds every receive loop's counters into <paramref name="total"/>.</summary>
    public void CollectCounters(DataplaneCounters total)
    {
        foreach (var listener in _listeners)
        {
            listener.CollectCounters(total);
        }
    }

    /// <summary>The listeners were disposed: nothing is published any more.</summary>
    internal void Clear() => _listeners = [];
}
