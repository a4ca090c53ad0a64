using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.SocketConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Sends a batch's Forward slots with sendmmsg. With GSO, a run of consecutive slots to one destination
/// with one length (the last may be shorter) goes as a single entry: one iovec per slot, pointing into the
/// pinned batch (no copy), and a UDP_SEGMENT control message telling the kernel where to cut.
/// </summary>
internal sealed unsafe class BatchSender
{
    /// <summary>UDP_MAX_SEGMENTS of the kernels we target (newer ones allow 128; 64 works everywhere).</summary>
    internal const int MaxGsoSegments = 64;

    /// <summary>The largest UDP payload over IPv4 (65535 - 20 - 8); the kernel refuses a larger GSO send.</summary>
    internal const int MaxGsoPayload = 65507;

    // CMSG_SPACE(sizeof(u16)): one UDP_SEGMENT message per entry.
    private static readonly int SegmentControlBytes = CmsgHdr.Space(sizeof(ushort));

    private readonly MMsgHdr[] _messages = GC.AllocateArray<MMsgHdr>(PacketBatch.MaxCapacity, pinned: true);

    // iovec i always describes slot i, so the iovecs of a run are contiguous and an entry points at its first.
    private readonly IoVec[] _iovecs = GC.AllocateArray<IoVec>(PacketBatch.MaxCapacity, pinned: true);
    private readonly byte[] _control = GC.AllocateArray<byte>(PacketBatch.MaxCapacity * SegmentControlBytes, pinned: true);

    // Per entry: its first slot and how many slots it carries.
    private readonly int[] _firstSlot = new int[PacketBatch.MaxCapacity];
    private readonly int[] _slotCount = new int[PacketBatch.MaxCapacity];

    public BatchSender(bool gso)
    {
        GsoEnabled = gso;

        // The control headers never change; only the segment size after them does.
        for (var i = 0; i < PacketBatch.MaxCapacity; i++)
        {
            ref var cmsg = ref Unsafe.As<byte, CmsgHdr>(ref _control[i * SegmentControlBytes]);
            cmsg.Length = (nuint)CmsgHdr.Len(sizeof(ushort));
            cmsg.Level = SolUdp;
            cmsg.Type = UdpSegment;
        }
    }

    /// <summary>True while sends may carry UDP_SEGMENT; turned off for good after the kernel refuses one.</summary>
    public bool GsoEnabled { get; private set; }

    /// <summary>Returns the number of datagrams the kernel accepted; marks refused ones Drop(SendFailed).</summary>
    public int Send(SafeFdHandle fd, PacketBatch batch, DataplaneCounters counters)
    {
        var messages = (MMsgHdr*)Unsafe.AsPointer(ref _messages[0]);
        var entries = Build(batch, 0, 0, GsoEnabled);
        var sent = 0;
        var next = 0;
        while (next < entries)
        {
            var accepted = Libc.SendMMsg(fd, messages + next, (uint)(entries - next), 0);
            if (accepted > 0)
            {
                for (var entry = next; entry < next + accepted; entry++)
                {
                    sent += Account(entry, counters);
                }

                next += accepted;
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }

            if (_slotCount[next] > 1 && errno is Errno.EIO or Errno.EINVAL)
            {
                // Some paths cannot segment (no checksum offload, xfrm, a segment above the route MTU):
                // stop asking, and resend everything from this entry on one datagram per entry.
                GsoEnabled = false;
                entries = Build(batch, _firstSlot[next], next, gso: false);
                continue;
            }

            var first = _firstSlot[next];
            for (var slot = first; slot < first + _slotCount[next]; slot++)
            {
                batch.Drop(slot, DropReason.SendFailed);
            }

            next++;
        }

        return sent;
    }

    private int Account(int entry, DataplaneCounters counters)
    {
        var segments = _slotCount[entry];
        counters.Forwarded += segments;
        counters.ForwardedBytes += _messages[entry].Length;
        if (segments > 1)
        {
            counters.GsoSends++;
            counters.GsoSegments += segments;
        }

        return segments;
    }

    /// <summary>Fills entries from <paramref name="entry"/> on with the Forward slots from <paramref name="fromSlot"/> on; returns the entry count.</summary>
    private int Build(PacketBatch batch, int fromSlot, int entry, bool gso)
    {
        var messages = (MMsgHdr*)Unsafe.AsPointer(ref _messages[0]);
        var iovecs = (IoVec*)Unsafe.AsPointer(ref _iovecs[0]);
        var control = (byte*)Unsafe.AsPointer(ref _control[0]);
        var count = batch.Count;
        var slotSize = batch.SlotSize;
        var verdicts = batch.Verdicts;
        var lengths = batch.Lengths;
        var destinations = batch.Destinations;
        var slot = fromSlot;
        while (slot < count)
        {
            if (verdicts[slot] != PacketVerdict.Forward)
            {
                slot++;
                continue;
            }

            var segment = lengths[slot];
            if ((uint)segment > (uint)slotSize)
            {
                // The iovec would read past the slot into the next one (or past the buffer).
                batch.Drop(slot++, DropReason.Oversize);
                continue;
            }

            ref var destination = ref destinations[slot];
            if (destination.IsEmpty)
            {
                batch.Drop(slot++, DropReason.SendFailed);
                continue;
            }

            var first = slot;
            var total = segment;
            SetIoVec(iovecs, batch, slot++, segment);
            if (gso && segment > 0)
            {
                while (slot < count && slot - first < MaxGsoSegments && verdicts[slot] == PacketVerdict.Forward)
                {
                    var length = lengths[slot];
                    if (length <= 0 || length > segment || total + length > MaxGsoPayload || !destinations[slot].Equals(destination))
                    {
                        break;
                    }

                    SetIoVec(iovecs, batch, slot++, length);
                    total += length;
                    if (length < segment)
                    {
                        break; // only the last datagram of a GSO send may be short
                    }
                }
            }

            var segments = slot - first;
            ref var header = ref messages[entry].Header;
            header.Name = batch.DestinationPointer(first);
            header.NameLength = (uint)destination.SockaddrLength;
            header.Iov = &iovecs[first];
            header.IovLength = (nuint)segments;
            header.Flags = 0;
            if (segments > 1)
            {
                header.Control = control + (entry * SegmentControlBytes);
                header.ControlLength = (nuint)SegmentControlBytes;
                *(ushort*)(header.Control + CmsgHdr.Len(0)) = (ushort)segment;
            }
            else
            {
                // A run of one is a plain datagram: no cmsg, so it works on any kernel.
                header.Control = null;
                header.ControlLength = 0;
            }

            _firstSlot[entry] = first;
            _slotCount[entry] = segments;
            entry++;
        }

        return entry;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetIoVec(IoVec* iovecs, PacketBatch batch, int slot, int length)
    {
        iovecs[slot].Base = batch.SlotPointer(slot);
        iovecs[slot].Length = (nuint)length;
    }
}
