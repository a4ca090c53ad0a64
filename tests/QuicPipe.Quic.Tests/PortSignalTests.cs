using System.Diagnostics;
using QuicPipe.Quic.Internal;
using Xunit;

namespace QuicPipe.Quic.Tests;

public class PortSignalTests
{
    [Fact]
    public void A_wake_up_before_the_receive_resets_the_signal_is_not_lost()
    {
        using var signal = new PortSignal();

        // The endpoint posted work after its loop's last look at its queue, and woke the port before the receive began.
        signal.Wake();

        Assert.True(signal.ResetUnlessWoken()); // the receive must not wait
        Assert.False(signal.ResetUnlessWoken()); // taken: the next receive may
    }

    [Fact]
    public async Task A_wake_up_after_the_reset_ends_the_wait()
    {
        using var signal = new PortSignal();
        Assert.False(signal.ResetUnlessWoken());

        var clock = Stopwatch.StartNew();
        var waker = Task.Run(async () =>
        {
            await Task.Delay(50);
            signal.Wake();
        });
        signal.Wait(TimeSpan.FromSeconds(30));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"waited {clock.Elapsed}");

        // The waker may still be returning from Wake (disposing it then threw, under load); the signal outlives it.
        await waker;
    }

    [Fact]
    public void A_delivery_is_not_a_wake_up()
    {
        using var signal = new PortSignal();
        signal.Set();

        // The receive looks at its queue for deliveries; only the endpoint's wake-up is remembered.
        Assert.False(signal.ResetUnlessWoken());
    }
}
