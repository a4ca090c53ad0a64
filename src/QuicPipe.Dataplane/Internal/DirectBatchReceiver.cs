using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.SocketConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Receive without GRO: recvmmsg writes each datagram straight into its batch slot and each source
/// address straight into <see cref="PacketBatch.Sources"/>, so nothing is copied.
/// </summary>
internal sealed unsafe class DirectBatchReceiver
{
    // Pinned so the kernel can be handed their addresses; sized once for the largest batch.
    private readonly MMsgHdr[] _messages = GC.AllocateArray<MMsgHdr>(PacketBatch.MaxCapacity, pinned: true);
    private readonly IoVec[] _iovecs = GC.AllocateArray<IoVec>(PacketBatch.MaxCapacity, pinned: true);

    // The batch whose slots the vectors point at; pointing them elsewhere is only needed when it changes.
    private PacketBatch? _preparedFor;

    // Entries the kernel wrote last call: only their msg_namelen needs restoring.
    private int _used;

    /// <summary>
    /// Returns the datagram count, or minus the errno when recvmmsg fails. <paramref name="block"/>: wait for a first
    /// datagram (bounded by SO_RCVTIMEO); otherwise take what is queued (EAGAIN when nothing is).
    /// </summary>
    public int Receive(SafeFdHandle fd, PacketBatch batch, DataplaneCounters counters, bool block)
    {
        var messages = (MMsgHdr*)Unsafe.AsPointer(ref _messages[0]);
        Prepare(batch, messages);
        for (var i = 0; i < _used; i++)
        {
            // The kernel shrinks msg_namelen to the size it wrote (16 for IPv4).
            messages[i].Header.NameLength = PeerAddress.Size;
        }

        // MSG_TRUNC: msg_len reports the datagram's real length even when the slot was too small.
        var received = Libc.RecvMMsg(fd, messages, (uint)batch.Capacity, (block ? MsgWaitForOne : MsgDontWait) | MsgTrunc, null);
        if (received < 0)
        {
            _used = 0;
            batch.Count = 0;
            return -Marshal.GetLastPInvokeError();
        }

        _used = received;
        received = DatagramsIn(messages, received);
        var lengths = batch.Lengths;
        var sources = batch.Sources;
        var slotSize = batch.SlotSize;
        for (var i = 0; i < received; i++)
        {
            ref var message = ref messages[i];
            var length = (int)message.Length;
            batch.ResetSlot(i);
            ClearAddressTail(ref sources[i], message.Header.NameLength);
            if ((message.Header.Flags & MsgTrunc) != 0)
            {
                lengths[i] = slotSize;
                batch.Drop(i, DropReason.Oversize);
            }
            else
            {
                lengths[i] = length;
            }

            counters.ReceivedBytes += length;
        }

        counters.Received += received;
        batch.Count = received;
        return received;
    }

    /// <summary>
    /// How many of the <paramref name="received"/> entries hold datagrams. Woken by shutdown, recvmmsg counts
    /// the empty read as an entry; the kernel writes no address for it (msg_namelen 0), a datagram always has one.
    /// </summary>
    internal static int DatagramsIn(MMsgHdr* messages, int received)
    {
        for (var i = 0; i < received; i++)
        {
            if (messages[i].Header.NameLength == 0)
            {
                return i;
            }
        }

        return received;
    }

    /// <summary>Zeroes what the kernel did not write, so the slot holds no bytes of an earlier, longer address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ClearAddressTail(ref PeerAddress address, uint written)
    {
        if (written < PeerAddress.Size)
        {
            address.Raw[(int)written..].Clear();
        }
    }

    private void Prepare(PacketBatch batch, MMsgHdr* messages)
    {
        if (ReferenceEquals(batch, _preparedFor))
        {
            return;
        }

        var iovecs = (IoVec*)Unsafe.AsPointer(ref _iovecs[0]);
        for (var i = 0; i < batch.Capacity; i++)
        {
            iovecs[i].Base = batch.SlotPointer(i);
            iovecs[i].Length = (nuint)batch.SlotSize;
            ref var header = ref messages[i].Header;
            header.Name = batch.SourcePointer(i);
            header.NameLength = PeerAddress.Size;
            header.Iov = &iovecs[i];
            header.IovLength = 1;
            header.Control = null;
            header.ControlLength = 0;
        }

        _preparedFor = batch;
        _used = 0;
    }
}
