using System.Net.Sockets;

namespace QuicPipe.Dataplane.Internal;

/// <summary>What an accept loop does when an accept failed or descriptors run short, before it accepts again.</summary>
internal static class AcceptFailure
{
    // Long enough that a process out of descriptors does not spin a core on accept; short enough that service
    // resumes soon after descriptors are freed.
    private static readonly TimeSpan DescriptorsExhaustedPause = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A connection that died in the backlog needs no pause; with descriptors exhausted (EMFILE, ENFILE) the
    /// pending connection stays queued and the next accept would fail at once, so wait for descriptors.
    /// </summary>
    public static Task PauseAsync(SocketException error, CancellationToken stopping) =>
        error.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable
            ? WaitForDescriptorsAsync(stopping)
            : Task.CompletedTask;

    /// <summary>
    /// Waits, a moment at a time, until <see cref="DescriptorHeadroom.Spare"/> descriptors are free. Ends early,
    /// without throwing, when <paramref name="stopping"/> is cancelled: the loop's own check then ends it.
    /// </summary>
    public static async Task WaitForDescriptorsAsync(CancellationToken stopping)
    {
        do
        {
            await Task.Delay(DescriptorsExhaustedPause, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        while (!stopping.IsCancellationRequested && !DescriptorHeadroom.IsAvailable());
    }
}
