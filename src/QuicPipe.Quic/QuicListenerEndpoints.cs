using QuicPipe.Dataplane;

namespace QuicPipe.Quic;

/// <summary>
/// The QUIC endpoints a UDP listener runs on its own sockets (<see cref="QuicListenerBuilderExtensions.UseQuicEndpoint"/>),
/// one per address, published in the listener's features. The listener's receive loops own the sockets; a stage
/// picks out the datagrams that end here and hands them over with <see cref="TryDeliver"/>; the endpoints send
/// from the same address and port through a duplicate of the socket.
/// </summary>
public sealed class QuicListenerEndpoints
{
    private readonly QuicEndpoint[] _endpoints;
    private readonly QuicSharedSocket?[] _inboxes;

    internal QuicListenerEndpoints(QuicEndpoint[] endpoints, QuicSharedSocket[] inboxes)
    {
        _endpoints = endpoints;
        _inboxes = inboxes;
    }

    /// <summary>One endpoint per address of the listener, in the listener's order.</summary>
    public IReadOnlyList<QuicEndpoint> Endpoints => _endpoints;

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
