using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Interop;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpSendTests
{
    // (destination 'A' or 'B', length); the comments say how GSO groups them.
    private static readonly (char To, int Length)[] Plan =
    [
        ('A', 1200), ('A', 1200), ('A', 1200), ('A', 1200), ('A', 700), // one GSO send of 5 (short last)
        ('B', 300), ('B', 300),                                         // one GSO send of 2
        ('A', 1200),                                                    // alone: B follows
        ('B', 100), ('B', 200), ('B', 200),                              // 100 then a longer one: run breaks
        ('A', 0),                                                       // empty datagram, alone
        ('B', 50),
    ];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Send_delivers_each_forward_slot_byte_exact_to_its_destination(bool gso)
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gso: gso));
        using var receiverA = Loopback.PlainSocket();
        using var receiverB = Loopback.PlainSocket();
        var batch = new PacketBatch(32);
        var expectedA = new List<byte[]>();
        var expectedB = new List<byte[]>();
        for (var i = 0; i < Plan.Length; i++)
        {
            var payload = Loopback.Datagram(i, Plan[i].Length);
            var slot = batch.Add(payload, sender.LocalAddress);
            batch.Forward(slot, Loopback.AddressOf(Plan[i].To == 'A' ? receiverA : receiverB));
            (Plan[i].To == 'A' ? expectedA : expectedB).Add(payload);
        }

        // A dropped slot in the middle is never sent and splits nothing it should not.
        var dropped = batch.Add(Loopback.Datagram(99, 1200), sender.LocalAddress);
        batch.Drop(dropped, DropReason.UnknownCid);
        var counters = new DataplaneCounters();

        var sent = sender.Send(batch, counters);

        Assert.Equal(Plan.Length, sent);
        Assert.Equal(Plan.Length, counters.Forwarded);
        Assert.Equal(Plan.Sum(p => p.Length), counters.ForwardedBytes);
        Assert.Equal(expectedA, ReceivePlain(receiverA, expectedA.Count));
        Assert.Equal(expectedB, ReceivePlain(receiverB, expectedB.Count));
        Assert.Equal(gso, sender.GsoActive);
        if (gso)
        {
            Assert.Equal(3, counters.GsoSends);       // runs of 5, 2 and 2 (100 then 200 breaks; 200, 200 runs)
            Assert.Equal(9, counters.GsoSegments);
        }
        else
        {
            Assert.Equal(0, counters.GsoSends);
        }

        Assert.All(Enumerable.Range(0, Plan.Length).ToArray(), i => Assert.Equal(PacketVerdict.Forward, batch.Verdicts[i]));
    }

    [Fact]
    public void Gso_runs_respect_64_segments_and_the_65507_byte_payload_limit()
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var receiver = Loopback.PlainSocket();
        receiver.ReceiveBufferSize = 4 << 20;
        Assert.True(sender.GsoActive, "GSO is needed for this test");
        var batch = new PacketBatch(200);
        var expected = new List<byte[]>();

        // 130 x 100 bytes: 64 + 64 + 2. Then 70 x 1000 bytes: 65 fit 65507, then 5.
        for (var i = 0; i < 200; i++)
        {
            var payload = Loopback.Datagram(i, i < 130 ? 100 : 1000);
            batch.Forward(batch.Add(payload, sender.LocalAddress), Loopback.AddressOf(receiver));
            expected.Add(payload);
        }

        var counters = new DataplaneCounters();
        Assert.Equal(200, sender.Send(batch, counters));

        Assert.Equal(5, counters.GsoSends);
        Assert.Equal(200, counters.GsoSegments);
        Assert.Equal(expected, ReceivePlain(receiver, expected.Count));
    }

    [Fact]
    public void A_refused_datagram_is_marked_send_failed_and_the_rest_still_go()
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var receiver = Loopback.PlainSocket();
        var batch = new PacketBatch(4);
        var first = Loopback.Datagram(1, 10);
        var last = Loopback.Datagram(3, 10);
        batch.Forward(batch.Add(first, sender.LocalAddress), Loopback.AddressOf(receiver));

        // An IPv6 destination on an IPv4 socket: the kernel answers EAFNOSUPPORT. (Loopback, and never reached.)
        batch.Forward(batch.Add(Loopback.Datagram(2, 10), sender.LocalAddress), PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.IPv6Loopback, 9)));
        batch.Forward(batch.Add(last, sender.LocalAddress), Loopback.AddressOf(receiver));
        var counters = new DataplaneCounters();

        var sent = sender.Send(batch, counters);

        Assert.Equal(2, sent);
        Assert.Equal(DropReason.SendFailed, batch.DropReasons[1]);
        Assert.Equal(PacketVerdict.Drop, batch.Verdicts[1]);
        Assert.Equal(new[] { first, last }, ReceivePlain(receiver, 2));
    }

    [Fact]
    public void When_the_kernel_refuses_a_gso_send_gso_is_turned_off_and_the_segments_go_singly()
    {
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        using var receiver = Loopback.PlainSocket();
        Assert.True(sender.GsoActive, "GSO is needed for this test");

        // SO_NO_CHECK (no UDP checksum) makes the kernel refuse UDP_SEGMENT with EINVAL, as a device without
        // checksum offload does, while plain datagrams still go.
        Assert.Equal(0, SocketConfiguration.TrySet(sender.Handle, SocketConstants.SolSocket, SocketConstants.SoNoCheck, 1));
        var batch = new PacketBatch(8);
        var expected = new List<byte[]>();
        for (var i = 0; i < 6; i++)
        {
            var payload = Loopback.Datagram(i, 500);
            batch.Forward(batch.Add(payload, sender.LocalAddress), Loopback.AddressOf(receiver));
            expected.Add(payload);
        }

        var counters = new DataplaneCounters();
        var sent = sender.Send(batch, counters);

        Assert.Equal(6, sent);
        Assert.False(sender.GsoActive);
        Assert.Equal(0, counters.GsoSends);
        Assert.Equal(expected, ReceivePlain(receiver, expected.Count));
    }

    [Fact]
    public void SendTo_sends_one_datagram_and_Receive_gets_it()
    {
        using var a = UdpBatchSocket.Bind(Loopback.Any(AddressFamily.InterNetworkV6), Loopback.Options());
        using var b = UdpBatchSocket.Bind(Loopback.Any(AddressFamily.InterNetworkV6), Loopback.Options());
        var payload = Loopback.Datagram(7, 333);

        Assert.Equal(333, a.SendTo(payload, b.LocalAddress));

        var received = Loopback.ReceiveAll(b, new PacketBatch(4), new DataplaneCounters(), 1);
        Assert.Equal(payload, Assert.Single(received).Payload);
        Assert.Equal(a.LocalAddress, received[0].Source);
    }

    private static List<byte[]> ReceivePlain(Socket socket, int count)
    {
        var result = new List<byte[]>();
        var buffer = new byte[65536];
        for (var i = 0; i < count; i++)
        {
            var n = socket.Receive(buffer);
            result.Add(buffer.AsSpan(0, n).ToArray());
        }

        return result;
    }
}
