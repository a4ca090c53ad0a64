using QuicPipe.Peer;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// Runs a command's work only as long as its peer endpoint can work. An endpoint fails for good when another process
/// with the same key takes over its routes at the relay (<see cref="PeerEndpoint.Completion"/>): the work is then
/// cancelled and the endpoint's <see cref="PeerException"/> thrown, so the command exits 1 with that message
/// instead of running on where no peer can reach it.
/// </summary>
internal static class EndpointLifetime
{
    /// <summary>How long cancelled work may take to close its connections before the command exits anyway.</summary>
    private static readonly TimeSpan WindDown = TimeSpan.FromSeconds(2);

    public static async Task<T> RunAsync<T>(PeerEndpoint endpoint, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = work(stop.Token);
        await Task.WhenAny(running, endpoint.Completion).ConfigureAwait(false);
        if (!endpoint.Completion.IsFaulted)
        {
            return await running.ConfigureAwait(false);
        }

        // How the work ends now is a consequence, not the news: the endpoint's failure is what the user needs to read.
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(running, Task.Delay(WindDown, CancellationToken.None)).ConfigureAwait(false);
        throw endpoint.Completion.Exception!.GetBaseException();
    }

    public static Task RunAsync(PeerEndpoint endpoint, Func<CancellationToken, Task> work, CancellationToken cancellationToken) =>
        RunAsync(endpoint, async token =>
        {
            await work(token).ConfigureAwait(false);
            return true;
        }, cancellationToken);
}
