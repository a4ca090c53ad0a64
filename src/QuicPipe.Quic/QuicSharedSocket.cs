using System.Buffers.Binary;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// Lets a <see cref="QuicEndpoint"/> live on a UDP socket that another component receives from: the relay's
/// listener keeps reading its socket and hands over (<see cref="TryDeliver"/>) the datagrams addressed to the
/// endpoint; the endpoint sends through a duplicate of the same socket, so its packets leave from the same
/// address and port. Pass it to <see cref="QuicEndpoint.Attach(QuicSharedSocket, QuicEndpointOptions)"/>.
/// </summary>
/// <remarks>
/// The hand-over queues are bounded: when the endpoint falls behind, <see cref="TryDeliver"/> refuses and the
/// caller counts the drop (QUIC retransmits). Initials that would start a new connection wait in a queue of their
/// own, which the endpoint reads only after everything else: a flood of them (forged ones cost the sender nothing)
/// then fills only that queue, and the packets of established connections keep their way in. Within that queue each
/// source address has a share (<see cref="DefaultInitialsPerSourcePerSecond"/>), so that a flood from a few
/// addresses does not crowd out the Initials of everybody else either.
/// Any number of threads may deliver; one endpoint loop consumes.
/// </remarks>
public sealed class QuicSharedSocket : IDatagramPort
{
    /// <summary>Default bound of the hand-over queue.</summary>
    public const int DefaultQueueCapacity = 4096;

    /// <summary>Default bound of the queue of Initials for new connections.</summary>
    public const int DefaultInitialQueueCapacity = 1024;

    /// <summary>
    /// Default of how many Initials for new connections one source address may queue per second: more than the
    /// clients behind one address start (a client sends one to three per connection), far less than a flood.
    /// </summary>
    public const int DefaultInitialsPerSourcePerSecond = 200;

    // The shares are counted per 100 ms window, in slots picked by a hash of the source address (two addresses may
    // share a slot: then they share a share). Each slot: the window's number << 20 | Initials queued in it.
    private const int ShareWindowMs = 100;
    private const int ShareSlots = 4096;
    private readonly long[] _shares = new long[ShareSlots];
    private readonly int _initialsPerWindow;

    private readonly UdpBatchSocket _sender;
    private readonly HandOverQueue _queue;
    private readonly HandOverQueue _initials;
    private readonly PortSignal _signal = new();
    private long _refused;
    private long _refusedInitials;

    // Set by the endpoint once it runs: its CIDs, so that an Initial for a handshake under way (a client's
    // retransmission, or its ACK with the Handshake packets behind) goes with the established traffic.
    private CidTable? _knownConnectionIds;
    private volatile bool _shutdown;

    /// <param name="sender">
    /// A handle this object owns and sends through: <see cref="UdpBatchSocket.DuplicateForSending"/> of the socket
    /// another thread receives from.
    /// </param>
    /// <param name="queueCapacity">How many datagrams of established connections may wait for the endpoint.</param>
    /// <param name="initialQueueCapacity">How many Initials for new connections may wait for the endpoint.</param>
    /// <param name="initialsPerSourcePerSecond">How many of those one source address may queue per second (counted per 100 ms).</param>
    public QuicSharedSocket(UdpBatchSocket sender, int queueCapacity = DefaultQueueCapacity, int initialQueueCapacity = DefaultInitialQueueCapacity, int initialsPerSourcePerSecond = DefaultInitialsPerSourcePerSecond)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialQueueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialsPerSourcePerSecond, 10);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialsPerSourcePerSecond, 10_000_000);
        _queue = new HandOverQueue(queueCapacity);
        _initials = new HandOverQueue(initialQueueCapacity);
        _initialsPerWindow = initialsPerSourcePerSecond * ShareWindowMs / 1000;
        _sender = sender;
    }

    /// <summary>The shared socket's local address.</summary>
    public PeerAddress LocalAddress => _sender.LocalAddress;

    /// <summary>Datagrams refused because their queue was full or the endpoint was gone (Initials included).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Of <see cref="Refused"/>, the Initials for new connections refused because their queue was full or their source
    /// address had queued its share.
    /// </summary>
    public long RefusedInitials => Interlocked.Read(ref _refusedInitials);

    internal CidTable? KnownConnectionIds
    {
        set => Volatile.Write(ref _knownConnectionIds, value);
    }

    /// <summary>Queues a copy of <paramref name="datagram"/> for the endpoint; false (and counted) when full or shut down.</summary>
    public bool TryDeliver(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        var initial = StartsConnection(datagram);
        if (initial && !_shutdown && !TakeShare(source))
        {
            Interlocked.Increment(ref _refusedInitials);
            Interlocked.Increment(ref _refused);
            return false;
        }

        if (_shutdown || !(initial ? _initials : _queue).TryEnqueue(datagram, source))
        {
            if (!_shutdown && initial)
            {
                Interlocked.Increment(ref _refusedInitials);
            }

            Interlocked.Increment(ref _refused);
            return false;
        }

        _signal.Set();
        return true;
    }

    /// <summary>Counts one Initial against its source address's share of this window; false when the share is used up.</summary>
    private bool TakeShare(in PeerAddress source)
    {
        ref var slot = ref _shares[ShareSlot(source)];
        var window = Environment.TickCount64 / ShareWindowMs;
        while (true)
        {
            var current = Volatile.Read(ref slot);
            long next;
            if (current >> 20 != window)
            {
                next = (window << 20) | 1;
            }
            else if ((current & 0xFFFFF) >= _initialsPerWindow)
            {
                return false;
            }
            else
            {
                next = current + 1;
            }

            if (Interlocked.CompareExchange(ref slot, next, current) == current)
            {
                return true;
            }
        }
    }

    private static int ShareSlot(in PeerAddress source)
    {
        var bytes = source.AddressBytes;
        var folded = 0u;
        for (var i = 0; i + 4 <= bytes.Length; i += 4)
        {
            folded ^= BinaryPrimitives.ReadUInt32BigEndian(bytes[i..]);
        }

        // Fibonacci hashing: the top 12 bits of the product spread neighbouring addresses apart.
        return (int)((folded * 2654435769u) >> 20);
    }

    /// <summary>A v1 Initial (long header, type 0) whose DCID is none of the endpoint's: it would start a connection.</summary>
    private bool StartsConnection(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < 7 || (datagram[0] & 0xF0) != 0xC0)
        {
            return false;
        }

        int dcidLength = datagram[5];
        if (dcidLength > ConnectionId.MaxLength || datagram.Length < 6 + dcidLength)
        {
            return true;
        }

        return Volatile.Read(ref _knownConnectionIds) is not { } known || !known.TryGet(new ConnectionId(datagram.Slice(6, dcidLength)), out _);
    }

    int IDatagramPort.Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait)
    {
        batch.Clear();
        if (_shutdown)
        {
            return 0;
        }

        // Reset before looking, so a delivery or a wake-up between the look and the wait still wakes us.
        if (!_signal.ResetUnlessWoken() && _queue.IsEmpty && _initials.IsEmpty)
        {
            _signal.Wait(wait);
        }

        // Established connections first; new ones get what room the batch has left.
        _queue.DrainInto(batch, counters);
        _initials.DrainInto(batch, counters);
        return batch.Count;
    }

    void IDatagramPort.Send(PacketBatch batch, DataplaneCounters counters) => _sender.Send(batch, counters);

    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination) => _sender.SendTo(datagram, destination);

    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit) => _sender.SendTo(datagram, destination, hopLimit);

    void IDatagramPort.Wake() => _signal.Wake();

    void IDatagramPort.Shutdown()
    {
        _shutdown = true;
        _signal.Set();
    }

    /// <summary>Closes the sending duplicate (not the owner's socket) and drops whatever still waits.</summary>
    public void Dispose()
    {
        _shutdown = true;
        _signal.Set();
        _queue.Clear();
        _initials.Clear();

        _sender.Dispose();
        _signal.Dispose();
    }
}
