using System.Diagnostics;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>Receive coalescing: dense traffic shares receive calls, sparse traffic is never held back.</summary>
public sealed class UdpCoalescingTests
{
    private static readonly TimeSpan Coalescing = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void Datagrams_100_us_apart_share_batches_when_the_loop_waits_up_to_1_ms()
    {
        var (counters, seen) = Run(Coalescing, datagrams: 200, spacing: TimeSpan.FromMicroseconds(100));

        // Without the waits each datagram, 100 us after the one before, finds the loop idle: a batch of its own.
        Assert.Equal(200, seen);
        Assert.Equal(200, counters.Received);
        Assert.True(counters.CoalescingWaits > 0, "the loop never waited");
        Assert.True(counters.Batches <= 100, $"{counters.Batches} batches for 200 datagrams: the waits did not fill them");
    }

    [Fact]
    public void Datagrams_20_ms_apart_are_never_held_back()
    {
        var (counters, seen) = Run(Coalescing, datagrams: 10, spacing: TimeSpan.FromMilliseconds(20));

        Assert.Equal(10, seen);
        Assert.Equal(0, counters.CoalescingWaits);
    }

    [Fact]
    public void Off_by_default()
    {
        var (counters, seen) = Run(TimeSpan.Zero, datagrams: 50, spacing: TimeSpan.FromMicroseconds(100));

        Assert.Equal(50, seen);
        Assert.Equal(0, counters.CoalescingWaits);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1_001)]
    public void A_wait_outside_0_to_1_ms_is_refused(int microseconds)
    {
        var options = new UdpListenerOptions { Address = Loopback.Any(), Threads = 1, ReceiveCoalescing = TimeSpan.FromMicroseconds(microseconds) };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("Receive coalescing must be 0 to 1000 us", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Sends <paramref name="datagrams"/> to a one-loop listener, <paramref name="spacing"/> apart; returns its counters and what its pipeline saw.</summary>
    private static (DataplaneCounters Counters, int Seen) Run(TimeSpan coalescing, int datagrams, TimeSpan spacing)
    {
        var seen = 0;
        using var listener = new UdpListener(new UdpListenerOptions
        {
            Address = Loopback.Any(),
            Threads = 1,
            Socket = Loopback.Options(gro: false),
            ReceiveCoalescing = coalescing,
        });
        listener.Start((pipeline, _) => pipeline.Use(next => batch =>
        {
            Interlocked.Add(ref seen, batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                batch.MarkConsumed(i);
            }

            next(batch);
        }));

        using var sender = Loopback.PlainSocket();
        var target = listener.LocalAddress.ToEndPoint();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < datagrams; i++)
        {
            var due = spacing * i;
            while (clock.Elapsed < due)
            {
                Thread.SpinWait(20);
            }

            sender.SendTo(Loopback.Datagram(i, 100), target);
        }

        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref seen) < datagrams && deadline.Elapsed < Loopback.Deadline)
        {
            Thread.Sleep(5);
        }

        Assert.True(listener.Stop(Loopback.Deadline));
        var counters = new DataplaneCounters();
        listener.CollectCounters(counters);
        return (counters, seen);
    }
}
