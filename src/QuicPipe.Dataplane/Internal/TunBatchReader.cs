using QuicPipe.Dataplane.Tun;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Fills a TUN listener's batches with IP packets read from its device: one read per packet, or, on a device with
/// offloads, one read per frame, cut into packets (<see cref="TunFrameSplitter"/>) across as many batches as it
/// takes. Counts what it reads and the frames it cannot use. Reader thread only.
/// </summary>
internal sealed class TunBatchReader(TunDevice device, DataplaneCounters counters)
{
    private readonly TunFrameSplitter? _splitter = device.Offload ? new TunFrameSplitter() : null;

    /// <summary>Packets of a frame already read wait for the next batch: read them before waiting on the device.</summary>
    public bool HasPending => _splitter?.HasPending == true;

    /// <summary>Adds packets to <paramref name="batch"/> until it is full or the device has none queued.</summary>
    public void Fill(PacketBatch batch)
    {
        while (batch.Count < batch.Capacity)
        {
            var index = batch.Count;
            var length = _splitter is null ? device.Read(batch.Slot(index)) : NextSegment(batch.Slot(index));
            if (length == 0)
            {
                return;
            }

            batch.Lengths[index] = length;
            batch.Sources[index] = default;
            batch.ResetSlot(index);
            batch.Count = index + 1;
            counters.Received++;
            counters.ReceivedBytes += length;
        }
    }

    private int NextSegment(Span<byte> slot)
    {
        var splitter = _splitter!;
        while (true)
        {
            if (!splitter.HasPending)
            {
                var read = device.Read(splitter.Buffer);
                if (read == 0)
                {
                    return 0;
                }

                if (!splitter.Load(read))
                {
                    counters.CountDrop(DropReason.BadOffload);
                    continue;
                }

                if (splitter.IsSuperPacket)
                {
                    counters.GroBuffers++;
                }
            }

            var length = splitter.WriteNext(slot);
            if (length > 0)
            {
                return length;
            }

            // A packet larger than the MTU the slots are sized for: the device's own MTU forbids it.
            counters.CountDrop(DropReason.Oversize);
        }
    }
}
