using System.Net;
using Xunit;

namespace QuicPipe.Dataplane.Tests;

public class PacketBatchTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1025)]
    public void Capacity_outside_1_to_1024_is_refused(int capacity)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketBatch(capacity));
    }

    [Fact]
    public void Add_copies_the_datagram_and_resets_the_slot_decisions()
    {
        var batch = new PacketBatch(2, 128);
        var source = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 9));
        var first = batch.Add([1, 2, 3], source);
        batch.Drop(first, DropReason.UnknownCid);
        batch.Clear();

        var again = batch.Add([4, 5], source);

        Assert.Equal(0, again);
        Assert.Equal(new byte[] { 4, 5 }, batch.Payload(again).ToArray());
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[again]);
        Assert.Equal(DropReason.None, batch.DropReasons[again]);
        Assert.Equal(source, batch.Sources[again]);
    }

    [Fact]
    public void Add_to_a_full_batch_or_an_oversize_datagram_throws()
    {
        var batch = new PacketBatch(1, 64);
        Assert.Throws<ArgumentException>(() => batch.Add(new byte[65], default));
        batch.Add(new byte[64], default);
        Assert.Throws<InvalidOperationException>(() => batch.Add([1], default));
    }

    [Fact]
    public void A_local_verdict_carries_its_connection_slot_and_copies_with_the_datagram()
    {
        var batch = new PacketBatch(4, 64);
        var slot = batch.Add([1, 2], default);
        batch.MarkLocal(slot, localSlot: 12);

        batch.CopySlotTo(slot, batch, 3);

        Assert.Equal(PacketVerdict.Local, batch.Verdicts[slot]);
        Assert.Equal(12, batch.LocalSlots[slot]);
        Assert.Equal(PacketVerdict.Local, batch.Verdicts[3]);
        Assert.Equal(12, batch.LocalSlots[3]);
    }
}
