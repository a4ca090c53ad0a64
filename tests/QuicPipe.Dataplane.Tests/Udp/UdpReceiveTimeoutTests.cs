using System.Diagnostics;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

public class UdpReceiveTimeoutTests
{
    [Fact]
    public void SetReceiveTimeout_changes_how_long_an_empty_receive_waits()
    {
        var options = Loopback.Options();
        options.ReceiveTimeout = TimeSpan.FromSeconds(5);
        using var socket = UdpBatchSocket.Bind(Loopback.Any(), options);
        var batch = new PacketBatch(capacity: 4);

        socket.SetReceiveTimeout(TimeSpan.FromMilliseconds(20));
        var watch = Stopwatch.StartNew();
        var received = socket.Receive(batch, new DataplaneCounters());

        Assert.Equal(0, received);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => socket.SetReceiveTimeout(TimeSpan.FromSeconds(-2)));
    }
}
