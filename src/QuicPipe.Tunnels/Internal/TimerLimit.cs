namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// The longest delay <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> takes (2^32 - 2 ms, about 49.7
/// days). A configured timeout beyond it is refused when the proxy or connector is set up: used as is, it would throw
/// on every client, each dropped without an answer.
/// </summary>
internal static class TimerLimit
{
    public static readonly TimeSpan Max = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
}
