using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// Lets a <see cref="QuicEndpoint"/> run where there is no UDP socket: the packets it sends go to an
/// <see cref="IQuicPacketCarrier"/>, and the carrier hands over what arrives (<see cref="TryDeliver"/>) with the
/// address it names the sender by. Pass it to <see cref="QuicEndpoint.Attach(QuicVirtualSocket, QuicEndpointOptions)"/>.
/// </summary>
/// <remarks>
/// The hand-over queue is bounded: when the endpoint falls behind, <see cref="TryDeliver"/> refuses and counts the
/// drop (QUIC retransmits). Any number of threads may deliver; one endpoint loop consumes.
/// </remarks>
public sealed class QuicVirtualSocket : IDatagramPort
{
    /// <summary>Default bound of the hand-over queue.</summary>
    public const int DefaultQueueCapacity = 1024;

    private readonly IQuicPacketCarrier _carrier;
    private readonly HandOverQueue _queue;
    private readonly PortSignal _signal = new();
    private long _refused;
    private volatile bool _shutdown;

    /// <param name="carrier">Sends the endpoint's packets.</param>
    /// <param name="localAddress">The address the endpoint's paths are bound to (of the carrier's naming).</param>
    /// <param name="queueCapacity">How many received packets may wait for the endpoint.</param>
    public QuicVirtualSocket(IQuicPacketCarrier carrier, PeerAddress localAddress, int queueCapacity = DefaultQueueCapacity)
    {
        ArgumentNullException.ThrowIfNull(carrier);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _carrier = carrier;
        _queue = new HandOverQueue(queueCapacity);
        LocalAddress = localAddress;
    }

    /// <summary>The address the endpoint's paths are bound to.</summary>
    public PeerAddress LocalAddress { get; }

    /// <summary>Packets refused because the queue was full or the endpoint was gone.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Queues a copy of <paramref name="packet"/> for the endpoint; false (and counted) when full or shut down.</summary>
    public bool TryDeliver(ReadOnlySpan<byte> packet, in PeerAddress source)
    {
        if (_shutdown || packet.IsEmpty || !_queue.TryEnqueue(packet, source))
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        _signal.Set();
        return true;
    }

    int IDatagramPort.Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait)
    {
        batch.Clear();
        if (_shutdown)
        {
            return 0;
        }

        // Reset before looking, so a delivery or a wake-up between the look and the wait still wakes us.
        if (!_signal.ResetUnlessWoken() && _queue.IsEmpty)
        {
            _signal.Wait(wait);
        }

        _queue.DrainInto(batch, counters);
        return batch.Count;
    }

    void IDatagramPort.Send(PacketBatch batch, DataplaneCounters counters)
    {
        var verdicts = batch.Verdicts;
        var destinations = batch.Destinations;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] == PacketVerdict.Forward)
            {
                var payload = batch.Payload(i);
                _carrier.Send(payload, destinations[i]);
                counters.Forwarded++;
                counters.ForwardedBytes += payload.Length;
            }
        }

        _carrier.Flush();
    }

    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination) => SendOne(datagram, destination);

    // A carried packet has no IP TTL of its own to set: it goes like any other.
    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit) => SendOne(datagram, destination);

    void IDatagramPort.Wake() => _signal.Wake();

    private void SendOne(ReadOnlySpan<byte> datagram, in PeerAddress destination)
    {
        _carrier.Send(datagram, destination);
        _carrier.Flush();
    }

    void IDatagramPort.Shutdown()
    {
        _shutdown = true;
        _signal.Set();
    }

    /// <summary>Drops whatever still waits; the endpoint gets nothing more.</summary>
    public void Dispose()
    {
        _shutdown = true;
        _signal.Set();
        _queue.Clear();
    }
}
