using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpAllocationTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Receive_and_Send_allocate_nothing_in_the_steady_state(bool gro, bool gso)
    {
        using var a = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: gro, gso: gso));
        using var b = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: gro, gso: gso));
        var outgoing = new PacketBatch(32);
        for (var i = 0; i < 32; i++)
        {
            outgoing.Forward(outgoing.Add(Loopback.Datagram(i, 600), a.LocalAddress), b.LocalAddress);
        }

        var incoming = new PacketBatch(8);
        var counters = new DataplaneCounters();
        var allocated = SteadyStateAllocation.Measure(() =>
        {
            counters.Reset();
            for (var round = 0; round < 20; round++)
            {
                RoundTrip(a, b, outgoing, incoming, counters);
            }
        });

        Assert.Equal(0, allocated);
        Assert.Equal(20 * 32, counters.Received); // in the last measured round
    }

    private static void RoundTrip(UdpBatchSocket a, UdpBatchSocket b, PacketBatch outgoing, PacketBatch incoming, DataplaneCounters counters)
    {
        a.Send(outgoing, counters);
        var received = 0;
        for (var attempt = 0; received < 32 && attempt < 100; attempt++)
        {
            received += b.Receive(incoming, counters);
        }
    }
}
