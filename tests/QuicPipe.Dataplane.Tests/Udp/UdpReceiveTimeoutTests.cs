using System.Diagnostics;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpReceiveTimeoutTests
{
    [Fact]
    public void A_timed_receive_waits_its_own_wait_not_the_sockets_receive_timeout()
    {
        var options = Loopback.Options();
        options.ReceiveTimeout = TimeSpan.FromSeconds(5);
        using var socket = UdpBatchSocket.Bind(Loopback.Any(), options);
        var batch = new PacketBatch(capacity: 4);

        var watch = Stopwatch.StartNew();
        var received = socket.Receive(batch, new DataplaneCounters(), TimeSpan.FromMilliseconds(20));

        Assert.Equal(0, received);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void A_timed_receive_returns_what_is_queued_at_once_and_a_zero_wait_never_waits()
    {
        var options = Loopback.Options();
        options.ReceiveTimeout = TimeSpan.FromSeconds(5);
        using var socket = UdpBatchSocket.Bind(Loopback.Any(), options);
        using var sender = UdpBatchSocket.Bind(Loopback.Any(), Loopback.Options());
        var batch = new PacketBatch(capacity: 4);
        var counters = new DataplaneCounters();

        var watch = Stopwatch.StartNew();
        Assert.Equal(0, socket.Receive(batch, counters, TimeSpan.Zero));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"a zero wait took {watch.Elapsed}");

        sender.SendTo([1, 2, 3], socket.LocalAddress);
        watch.Restart();
        Assert.Equal(1, socket.Receive(batch, counters, TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"waited {watch.Elapsed} with a datagram queued");
        Assert.Equal(new byte[] { 1, 2, 3 }, batch.Slot(0)[..batch.Lengths[0]].ToArray());
    }
}
