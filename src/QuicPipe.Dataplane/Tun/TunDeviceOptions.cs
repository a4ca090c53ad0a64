using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Dataplane.Tun;

/// <summary>What <see cref="TunDevice.Create"/> makes: the device's name, MTU, addresses and the routes through it.</summary>
public sealed class TunDeviceOptions
{
    /// <summary>The device name when none is given.</summary>
    public const string DefaultName = "qp0";

    /// <summary>IPv4's minimum reassembly size, the smallest MTU we accept.</summary>
    public const int MinimumMtu = 576;

    /// <summary>IPv6's minimum link MTU (RFC 8200); the kernel disables IPv6 on a link below it.</summary>
    public const int MinimumIPv6Mtu = 1280;

    /// <summary>The largest MTU a TUN device takes.</summary>
    public const int MaximumMtu = 65535;

    /// <summary>IFNAMSIZ minus the terminating NUL.</summary>
    public const int MaximumNameLength = 15;

    /// <summary>The interface name: 1 to 15 characters, no '/', ':', '%' or whitespace.</summary>
    public string Name { get; set; } = DefaultName;

    /// <summary>The device's MTU: 576..65535, and at least 1280 when any address or route is IPv6.</summary>
    public int Mtu { get; set; } = 1400;

    /// <summary>
    /// Packets the kernel holds for the reader (txqueuelen; 16..65536). The TUN driver drops what does not fit rather
    /// than pushing back on the sender, so a queue that holds what a few TCP senders keep in flight (the kernel limits
    /// each to about 1 MB queued) avoids losses whenever the reader falls behind for a moment. The kernel's 500 does not.
    /// </summary>
    public int TransmitQueueLength { get; set; } = 4096;

    /// <summary>
    /// Segmentation and checksum offloads (IFF_VNET_HDR with TSO4/6, USO4/6 where the kernel has them, and partial
    /// checksums): the kernel hands over whole TCP and UDP super-packets of up to 64 KiB instead of cutting them into
    /// MTU-sized packets first, and takes joined TCP segments back in one write. Much less kernel work per byte;
    /// readers then get frames, not packets (see <see cref="TunDevice.Offload"/>). Off by default for plain readers;
    /// the server's TUN listener cuts and joins for its stages and handlers either way.
    /// </summary>
    public bool Offload { get; set; }

    /// <summary>The addresses the device holds; each also gives the kernel a route to its network.</summary>
    public IReadOnlyList<InterfaceAddress> Addresses { get; set; } = [];

    /// <summary>Further destinations routed through the device (main table, no gateway, metric 0).</summary>
    public IReadOnlyList<IPNetwork> Routes { get; set; } = [];

    /// <summary>The TUN clone device; tests point it elsewhere to see a kernel without TUN support.</summary>
    internal string DevicePath { get; set; } = TunConstants.DevicePath;

    /// <summary>Checks every option before anything is created.</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it and the rule.</exception>
    public void Validate()
    {
        ValidateName(Name);
        ArgumentNullException.ThrowIfNull(Addresses, nameof(Addresses));
        ArgumentNullException.ThrowIfNull(Routes, nameof(Routes));

        string? firstIPv6 = null;
        foreach (var address in Addresses)
        {
            if (address.Address is null)
            {
                throw new ArgumentException("An address of the TUN device is empty (default InterfaceAddress).", nameof(Addresses));
            }

            if (firstIPv6 is null && address.Address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                firstIPv6 = $"the IPv6 address {address}";
            }
        }

        foreach (var route in Routes)
        {
            if (route.BaseAddress is null)
            {
                throw new ArgumentException("A route of the TUN device is empty (default IPNetwork).", nameof(Routes));
            }

            if (firstIPv6 is null && route.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
            {
                firstIPv6 = $"the IPv6 route {route}";
            }
        }

        if (Mtu < MinimumMtu || Mtu > MaximumMtu)
        {
            throw new ArgumentException($"The MTU of TUN device {Name} must be between {MinimumMtu} and {MaximumMtu}; it is {Mtu}.", nameof(Mtu));
        }

        if (TransmitQueueLength is < 16 or > 65536)
        {
            throw new ArgumentException($"The transmit queue of TUN device {Name} holds 16 to 65536 packets; it is {TransmitQueueLength}.", nameof(TransmitQueueLength));
        }

        if (firstIPv6 is not null && Mtu < MinimumIPv6Mtu)
        {
            throw new ArgumentException($"The MTU of TUN device {Name} is {Mtu}, but {firstIPv6} needs at least {MinimumIPv6Mtu}.", nameof(Mtu));
        }
    }

    private static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("The TUN device needs a name.", nameof(Name));
        }

        // The kernel's dev_valid_name, plus '%': TUNSETIFF would read "tun%d" as a template and pick a name itself.
        var valid = name.Length <= MaximumNameLength && name is not "." and not ".."
            && !name.AsSpan().ContainsAny("/:%") && !name.Any(char.IsWhiteSpace) && name.All(char.IsAscii);
        if (!valid)
        {
            throw new ArgumentException(
                $"The TUN device name '{name}' is not valid: use 1 to {MaximumNameLength} ASCII characters without '/', ':', '%' or whitespace.",
                nameof(Name));
        }
    }
}
