using System.Globalization;
using QuicPipe.Relay;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The relay's <c>--peers</c> allow-list, re-read whole on SIGHUP; on an error the old list stays
/// (<see cref="RelayRouter.ReloadAllowList"/>). Peers dropped from it lose their routes and control connection.
/// </summary>
internal sealed class AllowListReload(RelayRouter relay) : IReloadable
{
    public string What => $"allow-list {relay.AllowListPath}";

    public string Reload()
    {
        try
        {
            var count = relay.ReloadAllowList();
            return count.ToString(CultureInfo.InvariantCulture) + (count == 1 ? " NodeId" : " NodeIds");
        }
        catch (PeerAllowListException e)
        {
            throw new ReloadException($"the old allow-list stays: {e.Message}", e);
        }
    }
}
