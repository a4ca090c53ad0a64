using System.Buffers;
using System.Collections.Concurrent;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// Lets a <see cref="QuicEndpoint"/> live on a UDP socket that another component receives from: the relay's
/// listener keeps reading its socket and hands over (<see cref="TryDeliver"/>) the datagrams addressed to the
/// endpoint; the endpoint sends through a duplicate of the same socket, so its packets leave from the same
/// address and port. Pass it to <see cref="QuicEndpoint.Attach"/>.
/// </summary>
/// <remarks>
/// The hand-over queue is bounded: when the endpoint falls behind, <see cref="TryDeliver"/> refuses and the
/// caller counts the drop (QUIC retransmits). Any number of threads may deliver; one endpoint loop consumes.
/// </remarks>
public sealed class QuicSharedSocket : IDatagramPort
{
    /// <summary>Default bound of the hand-over queue.</summary>
    public const int DefaultQueueCapacity = 4096;

    private readonly UdpBatchSocket _sender;
    private readonly ConcurrentQueue<Datagram> _queue = new();
    private readonly ManualResetEventSlim _signal = new(false);
    private readonly int _capacity;
    private int _queued;
    private long _refused;
    private volatile bool _shutdown;

    /// <param name="sender">
    /// A handle this object owns and sends through: <see cref="UdpBatchSocket.DuplicateForSending"/> of the socket
    /// another thread receives from.
    /// </param>
    /// <param name="queueCapacity">How many datagrams may wait for the endpoint.</param>
    public QuicSharedSocket(UdpBatchSocket sender, int queueCapacity = DefaultQueueCapacity)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _capacity = queueCapacity;
        _sender = sender;
    }

    /// <summary>The shared socket's local address.</summary>
    public PeerAddress LocalAddress => _sender.LocalAddress;

    /// <summary>Datagrams refused because the queue was full or the endpoint was gone.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Queues a copy of <paramref name="datagram"/> for the endpoint; false (and counted) when full or shut down.</summary>
    public bool TryDeliver(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        if (_shutdown || Interlocked.Increment(ref _queued) > _capacity)
        {
            if (!_shutdown)
            {
                Interlocked.Decrement(ref _queued);
            }

            Interlocked.Increment(ref _refused);
            return false;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(datagram.Length, 1));
        datagram.CopyTo(buffer);
        _queue.Enqueue(new Datagram(buffer, datagram.Length, source));
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

        // Reset before looking, so a delivery between the look and the wait still wakes us.
        _signal.Reset();
        if (_queue.IsEmpty)
        {
            _signal.Wait(wait);
        }

        while (batch.Count < batch.Capacity && _queue.TryDequeue(out var datagram))
        {
            Interlocked.Decrement(ref _queued);
            if (datagram.Length > 0 && datagram.Length <= batch.SlotSize)
            {
                batch.Add(datagram.Buffer.AsSpan(0, datagram.Length), datagram.Source);
                counters.Received++;
                counters.ReceivedBytes += datagram.Length;
            }

            ArrayPool<byte>.Shared.Return(datagram.Buffer);
        }

        return batch.Count;
    }

    void IDatagramPort.Send(PacketBatch batch, DataplaneCounters counters) => _sender.Send(batch, counters);

    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination) => _sender.SendTo(datagram, destination);

    void IDatagramPort.SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit) => _sender.SendTo(datagram, destination, hopLimit);

    void IDatagramPort.Wake() => _signal.Set();

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
        while (_queue.TryDequeue(out var datagram))
        {
            ArrayPool<byte>.Shared.Return(datagram.Buffer);
        }

        _sender.Dispose();
        _signal.Dispose();
    }

    private readonly record struct Datagram(byte[] Buffer, int Length, PeerAddress Source);
}
