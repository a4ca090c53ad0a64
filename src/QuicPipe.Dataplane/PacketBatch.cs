using System.Runtime.CompilerServices;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Dataplane;

/// <summary>
/// A reusable batch of datagrams as a struct of arrays over pinned memory: slot <c>i</c> holds the
/// datagram bytes, its length, the sender's raw address, its parsed header, a verdict and, for
/// forwarded packets, the destination. The kernel reads and writes the pinned arrays directly
/// (recvmmsg/sendmmsg), and no stage allocates: a batch is created once per receive loop and reused.
/// </summary>
/// <remarks>A batch belongs to one thread at a time; nothing in it is synchronised.</remarks>
public sealed class PacketBatch
{
    public const int DefaultCapacity = 64;
    public const int MaxCapacity = 1024;

    /// <summary>Bytes per slot: larger than any datagram a 1500-byte MTU path carries.</summary>
    public const int DefaultSlotSize = 2048;

    public const int MaxSlotSize = 65536;

    private readonly byte[] _buffer;
    private readonly int[] _lengths;
    private readonly PeerAddress[] _sources;
    private readonly PeerAddress[] _destinations;
    private readonly QuicHeader[] _headers;
    private readonly PacketVerdict[] _verdicts;
    private readonly DropReason[] _dropReasons;
    private readonly int[] _localSlots;
    private int _count;

    public PacketBatch(int capacity = DefaultCapacity, int slotSize = DefaultSlotSize)
    {
        if (capacity is < 1 or > MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"A batch holds 1 to {MaxCapacity} datagrams.");
        }

        if (slotSize is < 64 or > MaxSlotSize)
        {
            throw new ArgumentOutOfRangeException(nameof(slotSize), slotSize, $"A slot holds 64 to {MaxSlotSize} bytes.");
        }

        Capacity = capacity;
        SlotSize = slotSize;

        // Pinned (on the pinned object heap) because the kernel holds pointers into these during syscalls.
        _buffer = GC.AllocateUninitializedArray<byte>(capacity * slotSize, pinned: true);
        _sources = GC.AllocateArray<PeerAddress>(capacity, pinned: true);
        _destinations = GC.AllocateArray<PeerAddress>(capacity, pinned: true);
        _lengths = GC.AllocateArray<int>(capacity, pinned: true);
        _headers = new QuicHeader[capacity];
        _verdicts = new PacketVerdict[capacity];
        _dropReasons = new DropReason[capacity];
        _localSlots = new int[capacity];
    }

    public int Capacity { get; }

    public int SlotSize { get; }

    /// <summary>Datagrams currently in the batch, in slots 0 to Count-1.</summary>
    public int Count
    {
        get => _count;
        set
        {
            if ((uint)value > (uint)Capacity)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Count must be 0 to {Capacity}.");
            }

            _count = value;
        }
    }

    /// <summary>Length in bytes of each datagram.</summary>
    public Span<int> Lengths => _lengths.AsSpan(0, Capacity);

    /// <summary>Who sent each datagram.</summary>
    public Span<PeerAddress> Sources => _sources.AsSpan(0, Capacity);

    /// <summary>Where to send each datagram whose verdict is <see cref="PacketVerdict.Forward"/>.</summary>
    public Span<PeerAddress> Destinations => _destinations.AsSpan(0, Capacity);

    /// <summary>The parsed header of each datagram (valid once the header stage has run).</summary>
    public Span<QuicHeader> Headers => _headers.AsSpan(0, Capacity);

    public Span<PacketVerdict> Verdicts => _verdicts.AsSpan(0, Capacity);

    /// <summary>Why each dropped datagram was dropped.</summary>
    public Span<DropReason> DropReasons => _dropReasons.AsSpan(0, Capacity);

    /// <summary>
    /// Which local connection takes each datagram marked by <see cref="MarkLocal(int, int)"/> (the slot its
    /// <see cref="CidRoute.Local"/> route named); meaningless for any other verdict.
    /// </summary>
    public Span<int> LocalSlots => _localSlots.AsSpan(0, Capacity);

    /// <summary>The whole slot <paramref name="index"/> (SlotSize bytes), to receive into.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Slot(int index) => _buffer.AsSpan(index * SlotSize, SlotSize);

    /// <summary>The datagram in slot <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Payload(int index) => _buffer.AsSpan(index * SlotSize, _lengths[index]);

    /// <summary>Address of slot <paramref name="index"/>, for iovecs. Valid for the batch's lifetime (pinned).</summary>
    public unsafe byte* SlotPointer(int index) => (byte*)Unsafe.AsPointer(ref _buffer[index * SlotSize]);

    /// <summary>Address of the source address of slot <paramref name="index"/>, for msghdr.msg_name.</summary>
    public unsafe PeerAddress* SourcePointer(int index) => (PeerAddress*)Unsafe.AsPointer(ref _sources[index]);

    /// <summary>Address of the destination address of slot <paramref name="index"/>, for msghdr.msg_name.</summary>
    public unsafe PeerAddress* DestinationPointer(int index) => (PeerAddress*)Unsafe.AsPointer(ref _destinations[index]);

    /// <summary>Empties the batch for the next receive. Per-slot state is reset by <see cref="ResetSlot"/> as slots fill.</summary>
    public void Clear() => _count = 0;

    /// <summary>Clears the per-packet decisions of slot <paramref name="index"/>; receivers call it for each slot they fill.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ResetSlot(int index)
    {
        _verdicts[index] = PacketVerdict.Pending;
        _dropReasons[index] = DropReason.None;
        _headers[index] = default;
    }

    /// <summary>
    /// Appends a copy of <paramref name="datagram"/> from <paramref name="source"/>; returns its slot.
    /// For synthetic batches (tests, benchmarks, in-process producers), not the receive path.
    /// </summary>
    public int Add(ReadOnlySpan<byte> datagram, in PeerAddress source)
    {
        if (_count == Capacity)
        {
            throw new InvalidOperationException($"The batch is full ({Capacity} datagrams).");
        }

        if (datagram.Length > SlotSize)
        {
            throw new ArgumentException($"A datagram of {datagram.Length} bytes does not fit a {SlotSize}-byte slot.", nameof(datagram));
        }

        var index = _count++;
        datagram.CopyTo(Slot(index));
        _lengths[index] = datagram.Length;
        _sources[index] = source;
        _destinations[index] = default;
        ResetSlot(index);
        return index;
    }

    /// <summary>
    /// Copies everything slot <paramref name="index"/> holds (bytes, length, addresses, header, verdict) into slot
    /// <paramref name="targetIndex"/> of <paramref name="target"/>, which may be this batch. For stages that hold
    /// datagrams back or compact a batch; the caller keeps <see cref="Count"/> right.
    /// </summary>
    internal void CopySlotTo(int index, PacketBatch target, int targetIndex)
    {
        var length = _lengths[index];
        if (length > target.SlotSize)
        {
            throw new ArgumentException($"A datagram of {length} bytes does not fit a {target.SlotSize}-byte slot.", nameof(target));
        }

        if (ReferenceEquals(this, target) && index == targetIndex)
        {
            return;
        }

        Payload(index).CopyTo(target.Slot(targetIndex));
        target._lengths[targetIndex] = length;
        target._sources[targetIndex] = _sources[index];
        target._destinations[targetIndex] = _destinations[index];
        target._headers[targetIndex] = _headers[index];
        target._verdicts[targetIndex] = _verdicts[index];
        target._dropReasons[targetIndex] = _dropReasons[index];
        target._localSlots[targetIndex] = _localSlots[index];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Drop(int index, DropReason reason)
    {
        _verdicts[index] = PacketVerdict.Drop;
        _dropReasons[index] = reason;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Forward(int index, in PeerAddress destination)
    {
        _verdicts[index] = PacketVerdict.Forward;
        _destinations[index] = destination;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkLocal(int index) => _verdicts[index] = PacketVerdict.Local;

    /// <summary>Marks the datagram handled by the stage that calls this (see <see cref="PacketVerdict.Consumed"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkConsumed(int index) => _verdicts[index] = PacketVerdict.Consumed;

    /// <summary>Marks the datagram for local connection <paramref name="localSlot"/> (see <see cref="LocalSlots"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkLocal(int index, int localSlot)
    {
        _verdicts[index] = PacketVerdict.Local;
        _localSlots[index] = localSlot;
    }
}
