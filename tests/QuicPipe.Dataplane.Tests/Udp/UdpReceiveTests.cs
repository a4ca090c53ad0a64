using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpReceiveTests
{
    [Theory]
    [InlineData(AddressFamily.InterNetwork, false)]
    [InlineData(AddressFamily.InterNetwork, true)]
    [InlineData(AddressFamily.InterNetworkV6, false)]
    [InlineData(AddressFamily.InterNetworkV6, true)]
    public void Receive_fills_lengths_sources_and_bytes_exactly(AddressFamily family, bool gro)
    {
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(family), Loopback.Options(gro: gro));
        using var senderA = Loopback.PlainSocket(family);
        using var senderB = Loopback.PlainSocket(family);
        var sent = new List<(byte[] Payload, PeerAddress Source)>();
        for (var i = 0; i < 20; i++)
        {
            var sender = i % 3 == 0 ? senderB : senderA;
            var payload = Loopback.Datagram(i, 1 + (i * 37));
            sender.SendTo(payload, receiver.LocalAddress.ToEndPoint());
            sent.Add((payload, Loopback.AddressOf(sender)));
        }

        var batch = new PacketBatch(8);
        var counters = new DataplaneCounters();
        var received = Loopback.ReceiveAll(receiver, batch, counters, sent.Count);

        // Two senders: order is kept per sender, so compare per source.
        Assert.Equal(sent.Count, received.Count);
        foreach (var source in new[] { Loopback.AddressOf(senderA), Loopback.AddressOf(senderB) })
        {
            var expected = sent.Where(s => s.Source == source).Select(s => s.Payload).ToList();
            var actual = received.Where(r => r.Source == source).Select(r => r.Payload).ToList();
            Assert.Equal(expected, actual);
        }

        Assert.All(received, r => Assert.Equal(PacketVerdict.Pending, r.Verdict));
        Assert.All(received, r => Assert.Equal(family == AddressFamily.InterNetwork, r.Source.IsIPv4));
        Assert.Equal(sent.Count, counters.Received);
        Assert.Equal(sent.Sum(s => s.Payload.Length), counters.ReceivedBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_datagram_larger_than_a_slot_is_dropped_as_oversize_and_its_neighbours_are_not(bool gro)
    {
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: gro));
        using var sender = Loopback.PlainSocket();
        var small = Loopback.Datagram(1, 100);
        sender.SendTo(small, receiver.LocalAddress.ToEndPoint());
        sender.SendTo(Loopback.Datagram(2, 1000), receiver.LocalAddress.ToEndPoint());
        sender.SendTo(small, receiver.LocalAddress.ToEndPoint());

        var batch = new PacketBatch(4, slotSize: 256);
        var received = Loopback.ReceiveAll(receiver, batch, new DataplaneCounters(), 3);

        Assert.Equal(3, received.Count);
        Assert.Equal(small, received[0].Payload);
        Assert.Equal(PacketVerdict.Pending, received[0].Verdict);
        Assert.Equal(PacketVerdict.Drop, received[1].Verdict);
        Assert.Equal(DropReason.Oversize, received[1].Reason);
        Assert.Equal(256, received[1].Payload.Length); // the slot holds what fitted, never more
        Assert.Equal(small, received[2].Payload);
        Assert.Equal(PacketVerdict.Pending, received[2].Verdict);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Receive_returns_zero_when_the_timeout_passes_with_nothing_sent(bool gro)
    {
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options(gro: gro));
        var batch = new PacketBatch(4);
        batch.Add([1], receiver.LocalAddress);
        var clock = Stopwatch.StartNew();

        var n = receiver.Receive(batch, new DataplaneCounters());

        Assert.Equal(0, n);
        Assert.Equal(0, batch.Count);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(3));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Shutdown_wakes_a_blocked_receive_within_a_second_and_later_receives_return_without_waiting(bool gro)
    {
        var options = Loopback.Options(gro: gro);
        options.ReceiveTimeout = Timeout.InfiniteTimeSpan; // only Shutdown can end the wait
        using var receiver = UdpBatchSocket.Bind(Loopback.Any(), options);
        var batch = new PacketBatch(4);
        var counters = new DataplaneCounters();
        using var entered = new ManualResetEventSlim();
        var result = -1;
        var thread = new Thread(() =>
        {
            entered.Set();
            result = receiver.Receive(batch, counters);
        })
        { IsBackground = true };
        thread.Start();
        entered.Wait();
        Thread.Sleep(200); // let it reach recvmmsg

        var clock = Stopwatch.StartNew();
        receiver.Shutdown();
        var joined = thread.Join(TimeSpan.FromSeconds(1));

        Assert.True(joined, "Receive was still blocked 1 s after Shutdown");
        Assert.Equal(0, result);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1));

        // With an infinite receive timeout, a later receive that waited would never return: bound it on a thread
        // rather than timing it against a few milliseconds, which a busy machine can exceed.
        var later = -1;
        var again = new Thread(() => later = receiver.Receive(batch, counters)) { IsBackground = true };
        again.Start();
        Assert.True(again.Join(TimeSpan.FromSeconds(1)), "a receive after Shutdown blocked");
        Assert.Equal(0, later);
    }
}
