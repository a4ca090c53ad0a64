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
        RoundTrip(a, b, outgoing, incoming, counters); // warm up: first-call setup and JIT

        long sendBytes = 0, recvBytes = 0;
        for (var round = 0; round < 20; round++)
        {
            var t0 = GC.GetAllocatedBytesForCurrentThread();
            a.Send(outgoing, counters);
            var t1 = GC.GetAllocatedBytesForCurrentThread();
            var received = 0;
            while (received < 32)
            {
                received += b.Receive(incoming, counters);
            }

            var t2 = GC.GetAllocatedBytesForCurrentThread();
            sendBytes += t1 - t0;
            recvBytes += t2 - t1;
        }

        Assert.Equal((0L, 0L), (sendBytes, recvBytes));
    }

    private static void RoundTrip(UdpBatchSocket a, UdpBatchSocket b, PacketBatch outgoing, PacketBatch incoming, DataplaneCounters counters)
    {
        Assert.Equal(32, a.Send(outgoing, counters));
        var received = 0;
        while (received < 32)
        {
            var n = b.Receive(incoming, counters);
            Assert.True(n > 0);
            received += n;
        }
    }
}
