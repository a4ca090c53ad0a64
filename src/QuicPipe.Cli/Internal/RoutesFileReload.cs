using System.Globalization;
using QuicPipe.Relay;

namespace QuicPipe.Cli.Internal;

/// <summary>The relay's <c>--routes</c> file, re-read whole on SIGHUP; on an error the old routes stay (<see cref="RelayRouter.ReloadRoutes"/>).</summary>
internal sealed class RoutesFileReload(RelayRouter relay, string path) : IReloadable
{
    public string What => $"routes file {path}";

    public string Reload()
    {
        try
        {
            var count = relay.ReloadRoutes();
            return count.ToString(CultureInfo.InvariantCulture) + (count == 1 ? " route" : " routes");
        }
        catch (RouteFileException e)
        {
            throw new ReloadException($"the old routes stay: {e.Message}", e);
        }
    }
}
