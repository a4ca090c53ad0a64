using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.TunConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// The steps of <see cref="TunDevice.Create"/>: clear the name (replacing a leftover of ours, refusing anything
/// else), create the device with TUNSETIFF, then configure it over rtnetlink. Each refusal becomes a
/// <see cref="TunDeviceException"/> whose message says which case it is.
/// </summary>
internal static partial class TunDeviceSetup
{
    // IFF_NO_PI: packets are bare IP, the version nibble says the family. IFF_VNET_HDR (with Offload) puts a
    // virtio-net header before each packet, which is what lets super-packets through.
    private const short RequestFlags = IffTun | IffNoPi;

    private const uint TcpOffloads = TunFCsum | TunFTso4 | TunFTso6;

    // UDP segmentation offload came with Linux 6.2; older kernels refuse the whole set with EINVAL.
    private const uint TcpAndUdpOffloads = TcpOffloads | TunFUso4 | TunFUso6;

    private const string TunKind = "tun";

    /// <summary>
    /// Makes sure no device is called <paramref name="options"/>' name: nothing there, or a leftover TUN device of
    /// ours that nobody holds, which is deleted. Throws for a device of another kind, a TUN device that is not ours,
    /// and one of ours that a live process holds.
    /// </summary>
    public static void ClearName(RtNetlinkSocket netlink, TunDeviceOptions options, ILogger logger)
    {
        var name = options.Name;
        var error = netlink.GetLink(name, out var link);
        if (error == Errno.ENODEV)
        {
            return;
        }

        Check(netlink, error, name, $"Looking up network device {name}");
        if (link.Kind != TunKind)
        {
            throw NotTun(name, link.Kind);
        }

        if (link.TunType == IffTap)
        {
            throw new TunDeviceException($"A TAP device named {name} already exists; remove it (ip link delete {name}) or choose another name.");
        }

        if (link.Alias != TunDevice.OwnerAlias)
        {
            throw Foreign(name);
        }

        // Rtnetlink reports attached queues only for multi-queue devices, so whether a live quicpipe holds this one
        // is asked of TUNSETIFF itself: EBUSY when it is held (Open throws), else it attaches us to the leftover.
        using (Open(options))
        {
            error = netlink.DeleteLink(link.Index);
            if (error != Errno.ENODEV)
            {
                Check(netlink, error, name, $"Removing the leftover TUN device {name}");
            }
        }

        LogReplacedLeftover(logger, name);
    }

    /// <summary>Opens the clone device and creates <paramref name="options"/>' device on it, non-blocking.</summary>
    public static unsafe SafeFdHandle Open(TunDeviceOptions options)
    {
        var name = options.Name;
        var fd = Libc.Open(options.DevicePath, ORdWr | ONonBlock | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                Errno.EPERM or Errno.EACCES => NeedsRoot(name, errno),
                Errno.ENOENT => new TunDeviceException(
                    $"Creating TUN device {name} failed: {options.DevicePath} does not exist; this kernel has no TUN support or the tun module is not loaded (modprobe tun).",
                    errno),
                Errno.ENODEV or Errno.ENXIO => new TunDeviceException(
                    $"Creating TUN device {name} failed: no driver answers {options.DevicePath}; load the tun module (modprobe tun).",
                    errno),
                _ => new TunDeviceException($"Creating TUN device {name} failed: opening {options.DevicePath}: {TunDeviceException.Describe(errno)}.", errno),
            };
        }

        var handle = new SafeFdHandle(fd);
        var request = default(IfReq);
        Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, IfReq.NameSize - 1));
        request.Flags = options.Offload ? (short)(RequestFlags | IffVnetHdr) : RequestFlags;
        if (Libc.Ioctl(handle, TunSetIff, &request) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();

            // Past ClearName, EBUSY and EINVAL mean a device took the name since it looked.
            throw errno switch
            {
                Errno.EPERM or Errno.EACCES => NeedsRoot(name, errno),
                Errno.EBUSY => Busy(name),
                Errno.EINVAL => NotTun(name, kind: null),
                _ => new TunDeviceException($"Creating TUN device {name} failed: TUNSETIFF: {TunDeviceException.Describe(errno)}.", errno),
            };
        }

        if (options.Offload)
        {
            EnableOffloads(handle, name);
        }

        return handle;
    }

    /// <summary>The freshly created device's index; refuses a device that TUNSETIFF attached to instead of creating.</summary>
    public static int FindCreated(RtNetlinkSocket netlink, string name)
    {
        var error = netlink.GetLink(name, out var link);
        Check(netlink, error, name, $"Looking up the new TUN device {name}");

        // A device we create is neither persistent nor named yet. Either means a persistent device appeared under
        // this name after ClearName looked, and TUNSETIFF attached us to it.
        if (link.Persistent || link.Alias is not null)
        {
            throw Foreign(name);
        }

        return link.Index;
    }

    private static unsafe void EnableOffloads(SafeFdHandle handle, string name)
    {
        if (Libc.Ioctl(handle, TunSetOffload, (void*)TcpAndUdpOffloads) == 0 || Libc.Ioctl(handle, TunSetOffload, (void*)TcpOffloads) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        handle.Dispose();
        throw new TunDeviceException($"Creating TUN device {name} failed: TUNSETOFFLOAD: {TunDeviceException.Describe(errno)}; run without offloads.", errno);
    }

    /// <summary>MTU and alias, addresses, up, routes: routes need the link up ("Nexthop device is not up").</summary>
    public static void Configure(RtNetlinkSocket netlink, int index, TunDeviceOptions options)
    {
        var name = options.Name;
        Check(netlink, netlink.SetMtuAndAlias(index, options.Mtu, options.TransmitQueueLength, TunDevice.OwnerAlias), name, $"Setting MTU {options.Mtu} on TUN device {name}");
        foreach (var address in options.Addresses)
        {
            var error = netlink.AddAddress(index, address);

            // The kernel answers EACCES, not a word about IPv6, when IPv6 is switched off: not a missing privilege.
            if (error == Errno.EACCES && address.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                throw new TunDeviceException($"Adding address {address} to TUN device {name} failed: IPv6 is disabled here (sysctl net.ipv6.conf.all.disable_ipv6 / default.disable_ipv6); enable it or give only IPv4 addresses.", error);
            }

            Check(netlink, error, name, $"Adding address {address} to TUN device {name}");
        }

        Check(netlink, netlink.SetUp(index), name, $"Bringing TUN device {name} up");
        foreach (var route in options.Routes)
        {
            Check(netlink, netlink.AddRoute(index, route), name, $"Adding route {route} via TUN device {name}");
        }
    }

    /// <summary>Throws "<paramref name="step"/> failed: strerror (kernel detail)." for a nonzero errno.</summary>
    public static void Check(RtNetlinkSocket netlink, int error, string name, string step)
    {
        if (error == 0)
        {
            return;
        }

        if (error is Errno.EPERM or Errno.EACCES)
        {
            throw NeedsRoot(name, error);
        }

        var detail = netlink.LastErrorDetail is { Length: > 0 } text ? $" ({text})" : string.Empty;
        throw new TunDeviceException($"{step} failed: {TunDeviceException.Describe(error)}{detail}.", error);
    }

    public static TunDeviceException NeedsRoot(string name, int errno) =>
        new($"Creating TUN device {name} needs root or CAP_NET_ADMIN.", errno);

    private static TunDeviceException NotTun(string name, string? kind) =>
        new(kind is null
            ? $"A network device named {name} already exists and is not a TUN device; remove it or choose another name."
            : $"A network device named {name} already exists and is not a TUN device (it is a {kind} device); remove it or choose another name.");

    private static TunDeviceException Foreign(string name) =>
        new($"A TUN device named {name} already exists that quicpipe did not create (its alias is not \"{TunDevice.OwnerAlias}\"); remove it (ip link delete {name}) or choose another name.");

    private static TunDeviceException Busy(string name) =>
        new($"TUN device {name} is in use by another running quicpipe; stop that one or choose another name.", Errno.EBUSY);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "replaced a leftover TUN device {Name} of an earlier quicpipe")]
    private static partial void LogReplacedLeftover(ILogger logger, string name);
}
