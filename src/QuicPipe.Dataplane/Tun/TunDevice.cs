using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane.Tun;

/// <summary>
/// A Linux TUN device: bare IP packets (no packet-information header) in and out through one non-blocking
/// descriptor, configured (MTU, addresses, up, routes) over rtnetlink. Disposing deletes the device, and with it
/// its addresses and routes.
/// </summary>
/// <remarks>
/// Made with <see cref="TunDeviceOptions.Offload"/>, the device also hands over TCP and UDP super-packets of up to
/// 64 KiB and packets with unfinished checksums, each read starting with a <c>struct virtio_net_hdr</c> that says
/// so; <see cref="Write(ReadOnlySpan{byte})"/> still takes plain IP packets (it writes the header for them).
/// </remarks>
/// <remarks>
/// The device is made in the network namespace of the thread that calls <see cref="Create"/>; after that any thread
/// may use it. One reader and one writer at a time; <see cref="Dispose"/> from any thread.
/// </remarks>
public sealed class TunDevice : IDisposable
{
    /// <summary>
    /// The interface alias (IFLA_IFALIAS) that marks a device as made by quicpipe, so that a leftover from a process
    /// that died can be told from someone else's device and replaced.
    /// </summary>
    public const string OwnerAlias = "quicpipe vpn";

    private readonly SafeFdHandle _fd;

    // Kept open for Dispose: it lives in the device's namespace, which need not be the disposing thread's.
    private readonly RtNetlinkSocket _netlink;
    private readonly ILogger _logger;

    // 1 once Dispose has begun.
    private int _disposed;

    private TunDevice(SafeFdHandle fd, RtNetlinkSocket netlink, ILogger logger, string name, int interfaceIndex, int mtu, bool offload)
    {
        Offload = offload;
        _fd = fd;
        _netlink = netlink;
        _logger = logger;
        Name = name;
        InterfaceIndex = interfaceIndex;
        Mtu = mtu;
    }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>The interface index in the device's network namespace.</summary>
    public int InterfaceIndex { get; }

    /// <summary>The MTU set at creation: the largest packet <see cref="Read"/> returns and <see cref="Write(ReadOnlySpan{byte})"/> should get.</summary>
    public int Mtu { get; }

    /// <summary>
    /// The device was made with IFF_VNET_HDR and segmentation offloads: <see cref="Read"/> returns frames (a
    /// <c>virtio_net_hdr</c>, then a packet or a super-packet) and needs a buffer of 64 KiB and more.
    /// </summary>
    public bool Offload { get; }

    /// <summary>The smallest buffer <see cref="Read"/> takes: the MTU, or with <see cref="Offload"/> a whole frame.</summary>
    public int ReadBufferSize => Offload ? TunFrameSplitter.FrameBufferSize : Mtu;

    /// <summary>The device's descriptor (non-blocking), for a reader that waits with its own poll or epoll.</summary>
    public SafeHandle Handle => _fd;

    /// <summary>
    /// Creates the TUN device <paramref name="options"/> describe in the calling thread's network namespace, sets its
    /// MTU and alias, adds its addresses, brings it up and adds its routes. A leftover device of an earlier quicpipe
    /// with the same name is deleted first (logged at Information). On any failure everything done is undone.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    /// <exception cref="TunDeviceException">
    /// The device cannot be made; the one-line message says why: no privilege, no TUN support, the name is taken (by
    /// another kind of device, by a TUN device quicpipe did not make, or by a running quicpipe), or the kernel refused
    /// the MTU, an address or a route.
    /// </exception>
    public static TunDevice Create(TunDeviceOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            throw new PlatformNotSupportedException("TunDevice mirrors the 64-bit Linux TUN and rtnetlink structs.");
        }

        logger ??= NullLogger.Instance;
        var name = options.Name;
        var netlink = RtNetlinkSocket.TryOpen(out var socketError)
            ?? throw new TunDeviceException($"Creating TUN device {name} failed: opening an rtnetlink socket: {TunDeviceException.Describe(socketError)}.", socketError);
        SafeFdHandle? fd = null;
        var index = 0;
        try
        {
            TunDeviceSetup.ClearName(netlink, options, logger);
            fd = TunDeviceSetup.Open(options);
            index = TunDeviceSetup.FindCreated(netlink, name);
            TunDeviceSetup.Configure(netlink, index, options);
            return new TunDevice(fd, netlink, logger, name, index, options.Mtu, options.Offload);
        }
        catch
        {
            // Deleting by index removes what Configure added with the link. Were that refused, closing the only
            // descriptor of a non-persistent device removes it too.
            if (index != 0)
            {
                _ = netlink.DeleteLink(index);
            }

            fd?.Dispose();
            netlink.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads one packet into <paramref name="packet"/> and returns its length, or 0 when none is queued. The buffer
    /// must hold <see cref="ReadBufferSize"/> bytes. With <see cref="Offload"/> what is read is a frame (see
    /// there). Allocates nothing.
    /// </summary>
    /// <exception cref="TunDeviceException">The device failed or was deleted under us.</exception>
    public unsafe int Read(Span<byte> packet)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (packet.Length < ReadBufferSize)
        {
            ThrowShortBuffer(packet.Length);
        }

        nint read;
        fixed (byte* buffer = packet)
        {
            read = Libc.Read(_fd, buffer, (nuint)packet.Length);
        }

        if (read >= 0)
        {
            return (int)read;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno is Errno.EAGAIN or Errno.EINTR)
        {
            return 0;
        }

        throw Failed("Reading from", errno);
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: without limit, 0: not at all) for a packet to read.
    /// True when one is queued, or when the device failed and <see cref="Read"/> will say how. Allocates nothing.
    /// </summary>
    public unsafe bool WaitReadable(int timeoutMilliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMilliseconds, -1);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var added = false;
        try
        {
            // The reference keeps the number from being closed and reused while poll watches it.
            _fd.DangerousAddRef(ref added);
            var poll = new PollFd { Fd = (int)_fd.DangerousGetHandle(), Events = Libc.PollIn };
            var ready = Libc.Poll(&poll, 1, timeoutMilliseconds);
            if (ready < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == Errno.EINTR ? false : throw Failed("Waiting on", errno);
            }

            return ready > 0 && poll.ReturnedEvents != 0;
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Hands one IP packet to the kernel, as if it had arrived on the device. Returns its length, or 0 when the
    /// kernel refused this packet (malformed, no memory, device down): the caller counts it as a drop. Allocates nothing.
    /// </summary>
    /// <exception cref="TunDeviceException">The device failed or was deleted under us.</exception>
    public int Write(ReadOnlySpan<byte> packet) => Write(packet, out _);

    /// <summary>
    /// As <see cref="Write(ReadOnlySpan{byte})"/>; a refused packet's errno comes back in <paramref name="errorNumber"/>
    /// (EINVAL: not an IPv4 or IPv6 packet; EIO: the device is down; ENOMEM/ENOBUFS: no room).
    /// </summary>
    public unsafe int Write(ReadOnlySpan<byte> packet, out int errorNumber)
    {
        if (!Offload)
        {
            return WriteFrame(packet, out errorNumber);
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // A zeroed header: a whole packet with its checksums done. Gathered, so the packet is not copied behind it.
        var header = default(VirtioNetHeader);
        nint written;
        fixed (byte* buffer = packet)
        {
            var vectors = stackalloc IoVec[2];
            vectors[0] = new IoVec { Base = (byte*)&header, Length = VirtioNetHeader.Size };
            vectors[1] = new IoVec { Base = buffer, Length = (nuint)packet.Length };
            written = Libc.Writev(_fd, vectors, 2);
        }

        var length = Written(written, out errorNumber);
        return length > 0 ? length - VirtioNetHeader.Size : 0;
    }

    /// <summary>
    /// Writes <paramref name="frame"/> as it is: with <see cref="Offload"/>, a <c>virtio_net_hdr</c> then the packet
    /// or super-packet it describes. Returns the bytes written, or 0 when the kernel refused the frame.
    /// </summary>
    internal unsafe int WriteFrame(ReadOnlySpan<byte> frame, out int errorNumber)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        nint written;
        fixed (byte* buffer = frame)
        {
            written = Libc.Write(_fd, buffer, (nuint)frame.Length);
        }

        return Written(written, out errorNumber);
    }

    private int Written(nint written, out int errorNumber)
    {
        if (written >= 0)
        {
            errorNumber = 0;
            return (int)written;
        }

        errorNumber = Marshal.GetLastPInvokeError();

        // EBADFD: the device is gone (deleted by someone else); nothing written afterwards can succeed.
        if (errorNumber is Errno.EBADFD or Errno.EBADF)
        {
            throw Failed("Writing to", errorNumber);
        }

        return 0;
    }

    /// <summary>Deletes the device (its addresses and routes go with it) and closes the descriptor. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Indexes are handed out cyclically from 2^31, so this index is still our device unless it is already gone.
        var error = _netlink.DeleteLink(InterfaceIndex);
        if (error is not 0 and not Errno.ENODEV)
        {
            // Closing the descriptor below still removes a non-persistent device.
            TunDeviceLog.DeleteFailed(_logger, Name, TunDeviceException.Describe(error));
        }

        _fd.Dispose();
        _netlink.Dispose();
    }

    private TunDeviceException Failed(string operation, int errno) =>
        new($"{operation} TUN device {Name} failed: {TunDeviceException.Describe(errno)}.", errno);

    private void ThrowShortBuffer(int length) =>
        throw new ArgumentException($"A packet buffer of {length} bytes cannot hold a packet of TUN device {Name}; it needs {ReadBufferSize}{(Offload ? " (a whole offloaded frame)" : " (the MTU)")}.", "packet");
}
