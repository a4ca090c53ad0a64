using System.Diagnostics;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// Interrupt moderation for a receive loop: when datagrams come close together but each receive finds only a few,
/// wait a little before the next receive so that it finds more. Every receive costs a system call and, when it
/// blocks, a sleep and a wake-up; at moderate rates (tens of thousands of datagrams a second) those are most of a
/// relay's CPU per datagram, and one short wait cuts them several-fold. The price is latency: a datagram that
/// arrives during the wait is forwarded up to <see cref="Wait"/> later.
/// </summary>
/// <remarks>
/// Sparse traffic never waits: a wait helps only if more datagrams arrive during it, and otherwise costs a timer
/// wake-up of its own. Traffic counts as dense when a batch held more than one datagram or the receive found its
/// first datagram sooner than <see cref="Wait"/> after the loop was ready for it. Large batches do not wait either:
/// their system calls are already shared by many datagrams.
/// </remarks>
internal sealed class ReceiveCoalescer
{
    private readonly TimeSpec _wait;
    private readonly long _waitTicks;
    private readonly int _largeBatch;

    // When the loop last became ready to receive (after its previous batch and any wait).
    private long _readySince;

    // When the current batch's receive returned.
    private long _receivedAt;

    /// <param name="wait">The longest a datagram waits for company; positive.</param>
    /// <param name="batchCapacity">Datagrams one receive can take; a quarter of that or more is a large batch.</param>
    public ReceiveCoalescer(TimeSpan wait, int batchCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(wait, TimeSpan.Zero);
        Wait = wait;
        _wait = TimeSpec.From(wait);
        _waitTicks = (long)(wait.TotalSeconds * Stopwatch.Frequency);
        _largeBatch = Math.Max(2, batchCapacity / 4);
    }

    public TimeSpan Wait { get; }

    /// <summary>
    /// On the loop's thread before its first receive: tighten the thread's timer slack to a tenth of the wait,
    /// so the wait ends close to when it should (the default slack is 50 us).
    /// </summary>
    public void ConfigureThread() => _ = Libc.SetThreadTimerSlack(Wait / 10);

    /// <summary>Right after a receive returned datagrams, before they are processed.</summary>
    public void Received() => _receivedAt = Stopwatch.GetTimestamp();

    /// <summary>After the batch of <paramref name="count"/> datagrams was processed and sent: waits if that pays.</summary>
    public void AfterBatch(int count, DataplaneCounters counters)
    {
        var dense = count > 1 || _receivedAt - _readySince < _waitTicks;
        if (dense && count < _largeBatch)
        {
            Libc.SleepMonotonic(_wait);
            counters.CoalescingWaits++;
        }

        _readySince = Stopwatch.GetTimestamp();
    }
}
