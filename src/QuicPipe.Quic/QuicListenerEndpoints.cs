using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// The QUIC endpoints a UDP listener runs on its own sockets, one per address, published in the listener's features.
/// Either the listener's receive loops own the sockets and a stage hands over the datagrams that end at the endpoint
/// (<see cref="QuicListenerBuilderExtensions.UseQuicEndpoint"/>, <see cref="TryDeliver"/>; the endpoints send through a
/// duplicate of the socket), or the endpoints run the listener's loops themselves
/// (<see cref="QuicListenerBuilderExtensions.RunQuicEndpoint"/>), and its stages run on their threads.
/// </summary>
public sealed class QuicListenerEndpoints
{
    private readonly QuicEndpoint?[] _endpoints;
    private readonly QuicSharedSocket?[] _inboxes;

    internal QuicListenerEndpoints(int addresses)
    {
        _endpoints = new QuicEndpoint?[addresses];
        _inboxes = new QuicSharedSocket?[addresses];
    }

    /// <summary>The endpoint on address <paramref name="addressIndex"/> (in the listener's order).</summary>
    public QuicEndpoint this[int addressIndex] =>
        _endpoints[addressIndex] ?? throw new InvalidOperationException($"No QUIC endpoint runs on address {addressIndex} of the listener (yet).");

    /// <summary>The endpoints, in the listener's order of addresses.</summary>
    public IEnumerable<QuicEndpoint> Endpoints => _endpoints.OfType<QuicEndpoint>();

    internal void Set(int addressIndex, QuicEndpoint endpoint, QuicSharedSocket? inbox = null)
    {
        _endpoints[addressIndex] = endpoint;
        Volatile.Write(ref _inboxes[addressIndex], inbox);
    }

    /// <summary>
    /// Queues <paramref name="datagram"/> for the endpoint on address <paramref name="addressIndex"/>. Null on
    /// success, else why it was dropped: the endpoint is stopping (<see cref="DropReason.NoLocalHandler"/>) or its
    /// queue is full (<see cref="DropReason.LocalQueueFull"/>).
    /// </summary>
    public DropReason? TryDeliver(int addressIndex, ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        if (Volatile.Read(ref _inboxes[addressIndex]) is not { } inbox)
        {
            return DropReason.NoLocalHandler;
        }

        return inbox.TryDeliver(datagram, source) ? null : DropReason.LocalQueueFull;
    }

    /// <summary>
    /// Hands packet <paramref name="index"/> of <paramref name="batch"/> to the endpoint on address
    /// <paramref name="addressIndex"/>: marked Local when queued, dropped (and counted by the listener) otherwise.
    /// </summary>
    public void Deliver(PacketBatch batch, int index, int addressIndex)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (TryDeliver(addressIndex, batch.Payload(index), batch.Sources[index]) is { } dropped)
        {
            batch.Drop(index, dropped);
        }
        else
        {
            batch.MarkLocal(index);
        }
    }

    /// <summary>From now on datagrams for the endpoints are dropped as having no local handler: they are stopping.</summary>
    internal void CloseInboxes()
    {
        for (var i = 0; i < _inboxes.Length; i++)
        {
            Volatile.Write(ref _inboxes[i], null);
        }
    }
}
