using QuicPipe.Dataplane.Tun;
using QuicPipe.Quic;
using QuicPipe.Vpn;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// What <c>quicpipe vpn</c>'s flags say: the device and the peers with their prefixes. A prefix or address that does
/// not parse, or one the rules refuse (host bits past the length, a prefix given to two peers), is a fatal error of
/// its own: one line naming it, exit 1.
/// </summary>
internal sealed record VpnArguments(TunDeviceOptions Device, VpnOptions Vpn)
{
    public const string DefaultTunName = "qp0";
    public const int DefaultMtu = 1400;

    /// <summary>The VPN's address space: the device's subnets and every peer prefix.</summary>
    public IEnumerable<System.Net.IPNetwork> VpnNetworks =>
        Device.Addresses.Select(a => IpPrefix.Containing(a.Address, a.PrefixLength)).Select(p => new System.Net.IPNetwork(p.Network, p.PrefixLength)).Concat(Device.Routes);

    /// <summary>
    /// The arguments; or null after one line on stderr saying what is wrong, with exit code 2: a malformed flag (a
    /// --peer without NODEID=, a bad NodeId) and a prefix, address or device setting the VPN refuses are all bad flags,
    /// found before anything is created.
    /// </summary>
    public static VpnArguments? Parse(IReadOnlyList<string> addresses, IReadOnlyList<string> peers, string tunName, int mtu, bool offload, out int exitCode)
    {
        exitCode = 0;
        try
        {
            var device = new TunDeviceOptions { Name = tunName, Mtu = mtu, Offload = offload };
            var own = new List<InterfaceAddress>();
            foreach (var address in addresses)
            {
                own.Add(InterfaceAddress.TryParse(address, out var parsed) ? parsed : throw new ArgumentException($"bad --address '{address}': expected ADDRESS/LENGTH, e.g. 100.64.0.1/24 or fd00:64::1/64."));
            }

            device.Addresses = own;
            var vpn = new VpnOptions();
            foreach (var peer in peers)
            {
                vpn.Peers.Add(ParsePeer(peer));
            }

            // Refuses a prefix given to two peers before anything is created.
            vpn.Validate();
            device.Routes = [.. vpn.Peers.SelectMany(p => p.AllowedPrefixes).Select(p => new System.Net.IPNetwork(p.Network, p.PrefixLength))];
            device.Validate();
            return new VpnArguments(device, vpn);
        }
        catch (ArgumentException e)
        {
            // The line is for a user: without the " (Parameter 'X')" .NET appends for a developer.
            var message = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : e.Message;
            Console.Error.WriteLine($"quicpipe vpn: {message}");
            exitCode = 2;
            return null;
        }
    }

    private static VpnPeerOptions ParsePeer(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || equals == text.Length - 1)
        {
            throw new ArgumentException($"bad --peer '{text}': expected NODEID=PREFIX[,PREFIX...], e.g. NODEID=100.64.0.2/32.");
        }

        var idText = text[..equals];
        if (!NodeId.TryParse(idText, out var id))
        {
            throw new ArgumentException($"bad --peer '{text}': '{idText}' is not a NodeId.");
        }

        var prefixes = new List<IpPrefix>();
        foreach (var part in text[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries))
        {
            try
            {
                prefixes.Add(IpPrefix.Parse(part));
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"bad prefix '{part}' for peer {idText}: {e.Message}", e);
            }
        }

        return new VpnPeerOptions(id, prefixes);
    }
}
