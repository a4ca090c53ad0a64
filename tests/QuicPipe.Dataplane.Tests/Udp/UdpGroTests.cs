using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpGroTests(ITestOutputHelper output)
{
    [GroTheory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(64)]
    public void Coalesced_buffers_are_split_one_datagram_per_slot_in_order_and_nothing_is_lost(int receiveCapacity)
    {
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: true));
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gso: true));

        // Over loopback a GSO send reaches a GRO socket still coalesced: 3 sends of 40, 40 and 20 datagrams
        // (the last of each run shorter), received through batches mostly too small to take a buffer at once.
        var batch = new PacketBatch(100);
        var expected = new List<byte[]>();
        for (var i = 0; i < 100; i++)
        {
            var length = i % 40 == 39 || i == 99 ? 123 : 1000;
            var payload = Loopback.Datagram(i, length);
            batch.Forward(batch.Add(payload, sender.LocalAddress), receiver.LocalAddress);
            expected.Add(payload);
        }

        var sent = new DataplaneCounters();
        Assert.Equal(100, sender.Send(batch, sent));
        Assert.Equal(3, sent.GsoSends);

        var counters = new DataplaneCounters();
        var received = Loopback.ReceiveAll(receiver, new PacketBatch(receiveCapacity), counters, expected.Count);

        Assert.Equal(expected, received.Select(r => r.Payload).ToList());
        Assert.All(received, r => Assert.Equal(sender.LocalAddress, r.Source));
        Assert.All(received, r => Assert.Equal(PacketVerdict.Pending, r.Verdict));
        Assert.Equal(100, counters.Received);
        Assert.Equal(expected.Sum(e => e.Length), counters.ReceivedBytes);
        output.WriteLine($"GRO buffers: {counters.GroBuffers}");
        Assert.True(counters.GroBuffers > 0, "the kernel delivered no coalesced buffer");

        // And nothing is left over: the next receive times out empty.
        Assert.Equal(0, receiver.Receive(new PacketBatch(16), counters));
    }

    [GroTheory]
    [InlineData(256)]
    public void Coalesced_datagrams_larger_than_a_slot_are_each_dropped_as_oversize(int slotSize)
    {
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: true));
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gso: true));
        var batch = new PacketBatch(8);
        for (var i = 0; i < 5; i++)
        {
            batch.Forward(batch.Add(Loopback.Datagram(i, 1000), sender.LocalAddress), receiver.LocalAddress);
        }

        Assert.Equal(5, sender.Send(batch, new DataplaneCounters()));

        var received = Loopback.ReceiveAll(receiver, new PacketBatch(8, slotSize), new DataplaneCounters(), 5);

        Assert.Equal(5, received.Count);
        Assert.All(received, r => Assert.Equal(DropReason.Oversize, r.Reason));
        Assert.All(received, r => Assert.Equal(slotSize, r.Payload.Length));
        Assert.Equal(Enumerable.Range(0, 5), received.Select(r => BitConverter.ToInt32(r.Payload)));
    }
}
