using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.SocketConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Receive with UDP_GRO: the kernel may hand back up to 64 KiB of same-sized datagrams in one buffer,
/// so recvmmsg fills private 64 KiB staging buffers and the datagrams are copied out one per slot.
/// A coalesced buffer can hold more datagrams than the batch has room for: the rest stay staged and
/// are handed out first by the next call, so nothing the kernel delivered is lost.
/// </summary>
/// <remarks>
/// The staging area is 32 x 64 KiB (2 MiB): it bounds one call to 32 buffers, i.e. 32 datagrams when
/// the kernel did not coalesce, against up to <see cref="PacketBatch.MaxCapacity"/> on the direct path.
/// </remarks>
internal sealed unsafe class GroBatchReceiver
{
    internal const int StagingEntries = 32;

    /// <summary>Larger than any UDP payload (65507), so a staged datagram is never cut.</summary>
    internal const int StagingBufferSize = 65536;

    // UDP_GRO needs CMSG_SPACE(sizeof(int)) = 24; the rest is room for any other control message.
    private const int ControlBytes = 64;

    private readonly byte[] _staging = GC.AllocateUninitializedArray<byte>(StagingEntries * StagingBufferSize, pinned: true);
    private readonly MMsgHdr[] _messages = GC.AllocateArray<MMsgHdr>(StagingEntries, pinned: true);
    private readonly IoVec[] _iovecs = GC.AllocateArray<IoVec>(StagingEntries, pinned: true);
    private readonly PeerAddress[] _sources = GC.AllocateArray<PeerAddress>(StagingEntries, pinned: true);
    private readonly byte[] _control = GC.AllocateArray<byte>(StagingEntries * ControlBytes, pinned: true);

    // Datagram size of each staged buffer (the UDP_GRO cmsg), or its whole length when not coalesced.
    private readonly int[] _segmentSizes = new int[StagingEntries];

    // Staged buffers still to hand out are [_next, _staged); _offset bytes of buffer _next are already out.
    private int _staged;
    private int _next;
    private int _offset;

    public GroBatchReceiver()
    {
        var staging = (byte*)Unsafe.AsPointer(ref _staging[0]);
        for (var i = 0; i < StagingEntries; i++)
        {
            _iovecs[i].Base = staging + ((long)i * StagingBufferSize);
            _iovecs[i].Length = StagingBufferSize;
            ref var header = ref _messages[i].Header;
            header.Name = Unsafe.AsPointer(ref _sources[i]);
            header.Iov = (IoVec*)Unsafe.AsPointer(ref _iovecs[i]);
            header.IovLength = 1;
            header.Control = (byte*)Unsafe.AsPointer(ref _control[i * ControlBytes]);
        }
    }

    /// <summary>
    /// Returns the datagram count, or minus the errno when recvmmsg fails with nothing staged. <paramref name="block"/>:
    /// wait for a first datagram when nothing is staged (bounded by SO_RCVTIMEO); otherwise never wait.
    /// </summary>
    public int Receive(SafeFdHandle fd, PacketBatch batch, DataplaneCounters counters, bool block)
    {
        var count = Drain(batch, 0, counters);
        if (count < batch.Capacity)
        {
            // Block only with empty hands; with staged datagrams already out, take what is queued and go.
            var flags = count == 0 && block ? MsgWaitForOne : MsgDontWait;
            var received = ReceiveStaged(fd, Math.Min(StagingEntries, batch.Capacity - count), flags, counters);
            if (received < 0 && count == 0)
            {
                batch.Count = 0;
                return received;
            }

            count = Drain(batch, count, counters);
        }

        batch.Count = count;
        return count;
    }

    private int ReceiveStaged(SafeFdHandle fd, int entries, int flags, DataplaneCounters counters)
    {
        var messages = (MMsgHdr*)Unsafe.AsPointer(ref _messages[0]);
        for (var i = 0; i < entries; i++)
        {
            // Both are in-out: the kernel shrinks them to what it wrote.
            messages[i].Header.NameLength = PeerAddress.Size;
            messages[i].Header.ControlLength = ControlBytes;
        }

        var received = Libc.RecvMMsg(fd, messages, (uint)entries, flags | MsgTrunc, null);
        if (received < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        received = DirectBatchReceiver.DatagramsIn(messages, received);
        for (var i = 0; i < received; i++)
        {
            ref var message = ref messages[i];
            DirectBatchReceiver.ClearAddressTail(ref _sources[i], message.Header.NameLength);
            var length = (int)message.Length;
            var segment = (message.Header.Flags & MsgTrunc) != 0 ? 0 : GroSegmentSize(ref message.Header);
            if (segment > 0 && segment < length)
            {
                counters.GroBuffers++;
            }
            else
            {
                segment = length;
            }

            _segmentSizes[i] = segment;
        }

        _staged = received;
        _next = 0;
        _offset = 0;
        return received;
    }

    /// <summary>Copies staged datagrams into slots from <paramref name="count"/> on until the batch is full or nothing is staged.</summary>
    private int Drain(PacketBatch batch, int count, DataplaneCounters counters)
    {
        var capacity = batch.Capacity;
        var slotSize = batch.SlotSize;
        var lengths = batch.Lengths;
        var sources = batch.Sources;
        while (_next < _staged && count < capacity)
        {
            ref var message = ref _messages[_next];
            var total = (int)message.Length;
            var truncated = (message.Header.Flags & MsgTrunc) != 0;
            var segment = _segmentSizes[_next];
            var staged = new ReadOnlySpan<byte>(message.Header.Iov->Base, StagingBufferSize);

            // do-while: a zero-length datagram still takes one slot.
            do
            {
                var length = Math.Min(segment, total - _offset);
                var kept = Math.Min(Math.Min(length, slotSize), StagingBufferSize - _offset);
                staged.Slice(_offset, kept).CopyTo(batch.Slot(count));
                lengths[count] = kept;
                sources[count] = _sources[_next];
                batch.ResetSlot(count);
                if (truncated || length > slotSize)
                {
                    batch.Drop(count, DropReason.Oversize);
                }

                counters.Received++;
                counters.ReceivedBytes += length;
                _offset += length;
                count++;
            }
            while (_offset < total && count < capacity);

            if (_offset >= total)
            {
                _next++;
                _offset = 0;
            }
        }

        return count;
    }

    /// <summary>The segment size from the UDP_GRO control message, or 0 when the kernel did not coalesce.</summary>
    private static int GroSegmentSize(ref MsgHdr header)
    {
        var control = header.Control;
        var end = (int)header.ControlLength;
        var offset = 0;
        while (offset + sizeof(CmsgHdr) <= end)
        {
            var cmsg = (CmsgHdr*)(control + offset);
            if (cmsg->Level == SolUdp && cmsg->Type == UdpGro)
            {
                return *(int*)(control + offset + CmsgHdr.Len(0));
            }

            var length = (int)cmsg->Length;
            if (length < sizeof(CmsgHdr))
            {
                break;
            }

            offset += CmsgHdr.Align(length);
        }

        return 0;
    }
}
