using System.Net.Sockets;

namespace QuicPipe.Tunnels.Internal;

/// <summary>What an accept loop does after a failed accept before it tries again.</summary>
internal static class AcceptFailure
{
    // Long enough that a process out of descriptors does not spin a core on accept; short enough that service
    // resumes soon after descriptors are freed.
    private static readonly TimeSpan DescriptorsExhaustedPause = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A connection that died in the backlog needs no pause; with descriptors exhausted (EMFILE, ENFILE) the
    /// pending connection stays queued and the next accept would fail at once, so wait a moment. Ends early, without
    /// throwing, when <paramref name="stopping"/> is cancelled: the loop's own check then ends it.
    /// </summary>
    public static async Task PauseAsync(SocketException error, CancellationToken stopping)
    {
        if (error.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
        {
            await Task.Delay(DescriptorsExhaustedPause, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
