using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// The addresses a peer may be reached at directly ("candidates"), as exchanged through the relay: its public
/// mapping as the relay sees it, then its own interface addresses (for two peers behind one NAT). At most
/// <see cref="MaxCount"/> each way; what arrives from the other side is checked, not trusted.
/// </summary>
internal static class PathCandidates
{
    public const int MaxCount = 8;

    /// <summary>
    /// Ours. Interface addresses are left out when the relay is a loopback address (the peers are on this machine,
    /// and the relay's view is already the loopback address that works), and loopback and link-local ones always;
    /// so is anything in <paramref name="excluded"/>.
    /// </summary>
    public static List<IPEndPoint> Gather(IPEndPoint local, IPEndPoint? observed, IPEndPoint relay, IEnumerable<IPNetwork> excluded)
    {
        var result = new List<IPEndPoint>(MaxCount);
        if (observed is not null && !IsExcluded(observed.Address, excluded))
        {
            result.Add(observed);
        }

        if (IPAddress.IsLoopback(relay.Address))
        {
            return result;
        }

        if (!local.Address.Equals(IPAddress.Any) && !local.Address.Equals(IPAddress.IPv6Any))
        {
            if (!IsExcluded(local.Address, excluded))
            {
                AddUnique(result, new IPEndPoint(local.Address, local.Port));
            }

            return result;
        }

        foreach (var address in InterfaceAddresses(local.AddressFamily).Where(a => !IsExcluded(a, excluded)))
        {
            AddUnique(result, new IPEndPoint(address, local.Port));
        }

        return result;
    }

    public static IEnumerable<string> Format(IEnumerable<IPEndPoint> candidates) => candidates.Select(c => c.ToString());

    /// <summary>
    /// The other side's: parsable, of our socket's family, unicast, with a port, and not in <paramref name="excluded"/>;
    /// the rest are ignored.
    /// </summary>
    public static List<IPEndPoint> Parse(IEnumerable<string> texts, AddressFamily family, IEnumerable<IPNetwork> excluded)
    {
        var result = new List<IPEndPoint>(MaxCount);
        foreach (var text in texts)
        {
            if (IPEndPoint.TryParse(text, out var candidate) && IsUsable(candidate, family) && !IsExcluded(candidate.Address, excluded))
            {
                AddUnique(result, candidate);
            }
        }

        return result;
    }

    private static bool IsUsable(IPEndPoint candidate, AddressFamily family)
    {
        var address = candidate.Address;
        if (candidate.Port == 0 || address.AddressFamily != family)
        {
            return false;
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        return !(address.IsIPv6Multicast || (family == AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xF0) == 0xE0));
    }

    private static bool IsExcluded(IPAddress address, IEnumerable<IPNetwork> excluded) =>
        excluded.Any(network => network.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address));

    private static void AddUnique(List<IPEndPoint> list, IPEndPoint candidate)
    {
        if (list.Count < MaxCount && !list.Contains(candidate))
        {
            list.Add(candidate);
        }
    }

    private static IEnumerable<IPAddress> InterfaceAddresses(AddressFamily family)
    {
        NetworkInterface[] interfaces;
        try
        {
            interfaces = NetworkInterface.GetAllNetworkInterfaces();
        }
        catch (NetworkInformationException)
        {
            yield break; // the public candidate is the one that usually matters
        }

        foreach (var nic in interfaces)
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                var address = unicast.Address;
                if (address.AddressFamily == family && !IPAddress.IsLoopback(address) && !address.IsIPv6LinkLocal)
                {
                    yield return address;
                }
            }
        }
    }
}
