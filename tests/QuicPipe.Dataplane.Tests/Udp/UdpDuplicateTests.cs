using System.Net;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>A sending duplicate shares the socket's address but never its reads.</summary>
public class UdpDuplicateTests
{
    [Fact]
    public void A_duplicate_sends_from_the_owners_port_cannot_receive_and_leaves_the_owner_open()
    {
        var loopback = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0));
        using var owner = UdpBatchSocket.Bind(loopback, new UdpSocketOptions { ReceiveTimeout = TimeSpan.FromSeconds(2) });
        using var peer = UdpBatchSocket.Bind(loopback, new UdpSocketOptions { ReceiveTimeout = TimeSpan.FromSeconds(2) });
        var batch = new PacketBatch();
        var counters = new DataplaneCounters();

        using (var duplicate = owner.DuplicateForSending())
        {
            Assert.Equal(owner.LocalAddress, duplicate.LocalAddress);
            Assert.Throws<InvalidOperationException>(() => duplicate.Receive(batch, counters));
            duplicate.SendTo([1, 2, 3], peer.LocalAddress);
            Assert.Equal(1, peer.Receive(batch, counters));
            Assert.Equal(owner.LocalAddress, batch.Sources[0]);

            // shutdown(2) would act on the shared socket: the duplicate's Shutdown must not stop the owner.
            duplicate.Shutdown();
        }

        peer.SendTo([4], owner.LocalAddress);
        Assert.Equal(1, owner.Receive(batch, counters));
        Assert.Equal(4, batch.Payload(0)[0]);
    }
}
