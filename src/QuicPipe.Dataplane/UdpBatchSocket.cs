using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Internal;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.SocketConstants;

namespace QuicPipe.Dataplane;

/// <summary>
/// A Linux UDP socket that moves whole <see cref="PacketBatch"/>es: recvmmsg in (with UDP GRO splitting),
/// sendmmsg out (with UDP GSO runs). All native state is preallocated, so Receive and Send allocate nothing.
/// </summary>
/// <remarks>
/// One thread at a time: a receive loop that also sends. <see cref="Shutdown"/> may be called from any thread.
/// </remarks>
public sealed class UdpBatchSocket : IDisposable
{
    private readonly SafeFdHandle _fd;
    private readonly DirectBatchReceiver? _directReceiver;
    private readonly GroBatchReceiver? _groReceiver;
    private readonly BatchSender _sender;
    private readonly bool _sendOnly;

    // Set by Shutdown/Dispose from any thread; the receive loop checks it before each call.
    private volatile bool _shutdown;

    private UdpBatchSocket(SafeFdHandle fd, PeerAddress localAddress, bool groActive, bool gsoActive, bool sendOnly = false)
    {
        _fd = fd;
        _sendOnly = sendOnly;
        LocalAddress = localAddress;
        if (groActive)
        {
            _groReceiver = new GroBatchReceiver();
        }
        else
        {
            _directReceiver = new DirectBatchReceiver();
        }

        _sender = new BatchSender(gsoActive);
    }

    /// <summary>The bound address, with the port the kernel chose when binding port 0.</summary>
    public PeerAddress LocalAddress { get; }

    /// <summary>The descriptor, for an <see cref="EpollSet"/> that waits on it beside others.</summary>
    internal SafeHandle Descriptor => _fd;

    /// <summary>GRO was requested and the kernel accepted UDP_GRO.</summary>
    public bool GroActive => _groReceiver is not null;

    /// <summary>GSO was requested and the kernel knows UDP_SEGMENT; false after a GSO send was refused at runtime.</summary>
    public bool GsoActive => _sender.GsoEnabled;

    /// <summary>The fd, for tests that set options the public surface does not offer.</summary>
    internal SafeFdHandle Handle => _fd;

    /// <summary>
    /// Binds a UDP socket on <paramref name="local"/> (IPv4, or IPv6 with IPV6_V6ONLY); port 0 picks a free port.
    /// </summary>
    /// <exception cref="UdpSocketException">A socket call failed; the message names the call, address and error.</exception>
    public static unsafe UdpBatchSocket Bind(in PeerAddress local, UdpSocketOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!local.IsIPv4 && !local.IsIPv6)
        {
            throw new ArgumentException("The local address must be IPv4 or IPv6.", nameof(local));
        }

        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            throw new PlatformNotSupportedException("UdpBatchSocket mirrors the 64-bit Linux socket structs.");
        }

        var address = local;
        var fd = Libc.Socket(address.RawFamily, SockDgram | SockCloexec, IpProtoUdp);
        if (fd < 0)
        {
            ThrowHelper.ThrowLastError("socket", address);
        }

        var handle = new SafeFdHandle(fd);
        try
        {
            SocketConfiguration.Apply(handle, address, options, out var gro, out var gso);
            if (Libc.Bind(handle, (byte*)&address, (uint)address.SockaddrLength) != 0)
            {
                if (Marshal.GetLastPInvokeError() == Errno.EADDRINUSE)
                {
                    throw UdpSocketException.InUse(address);
                }

                ThrowHelper.ThrowLastError("bind", address);
            }

            var bound = default(PeerAddress);
            var length = (uint)PeerAddress.Size;
            if (Libc.GetSockName(handle, (byte*)&bound, &length) != 0)
            {
                ThrowHelper.ThrowLastError("getsockname", address);
            }

            return new UdpBatchSocket(handle, bound, gro, gso);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A second handle on the same socket for another thread's sends (same local address and port, its own
    /// send buffers). It cannot receive: the socket's owner keeps reading it. Disposing it leaves this socket open.
    /// </summary>
    /// <exception cref="UdpSocketException">The descriptor cannot be duplicated.</exception>
    public UdpBatchSocket DuplicateForSending()
    {
        var fd = Libc.Fcntl(_fd, FDupFdCloexec, 0);
        if (fd < 0)
        {
            ThrowHelper.ThrowLastError("fcntl(F_DUPFD_CLOEXEC)", LocalAddress);
        }

        return new UdpBatchSocket(new SafeFdHandle(fd), LocalAddress, groActive: false, _sender.GsoEnabled, sendOnly: true);
    }

    /// <summary>
    /// Fills <paramref name="batch"/> from slot 0 and returns the datagram count (also in <see cref="PacketBatch.Count"/>).
    /// Waits for at least one datagram; returns 0 when the receive timeout passes or after <see cref="Shutdown"/>.
    /// A datagram larger than a slot fills its slot with verdict Drop(Oversize).
    /// </summary>
    public int Receive(PacketBatch batch, DataplaneCounters counters) => Receive(batch, counters, block: true);

    /// <summary>
    /// Like <see cref="Receive(PacketBatch, DataplaneCounters)"/>, but waits for a first datagram at most
    /// <paramref name="wait"/>, to within the thread's timer slack (ppoll), whatever SO_RCVTIMEO says: an event
    /// loop's timers (pacing, ACK delay) are often far below the jiffy that SO_RCVTIMEO rounds up to (on a 250 Hz
    /// kernel a 1 ms receive timeout sleeps 4-8 ms). Zero: take what is queued and return.
    /// </summary>
    public int Receive(PacketBatch batch, DataplaneCounters counters, TimeSpan wait)
    {
        var received = Receive(batch, counters, block: false);
        if (received > 0 || wait <= TimeSpan.Zero || _shutdown)
        {
            return received;
        }

        WaitReadable(wait);
        return Receive(batch, counters, block: false);
    }

    private unsafe void WaitReadable(TimeSpan wait)
    {
        var added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var poll = new PollFd { Fd = (int)_fd.DangerousGetHandle(), Events = Libc.PollIn };
            var timeout = TimeSpec.From(wait);

            // Readable, timed out and interrupted all end the same way: the caller receives without waiting.
            _ = Libc.PPoll(&poll, 1, &timeout, null);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: the receive that follows reports nothing.
        }
        finally
        {
            if (added)
            {
                _fd.DangerousRelease();
            }
        }
    }

    private int Receive(PacketBatch batch, DataplaneCounters counters, bool block)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(counters);
        if (_sendOnly)
        {
            throw new InvalidOperationException("This socket handle was made for sending (DuplicateForSending); its owner receives.");
        }

        if (_shutdown)
        {
            batch.Count = 0;
            return 0;
        }

        var result = _groReceiver is not null
            ? _groReceiver.Receive(_fd, batch, counters, block)
            : _directReceiver!.Receive(_fd, batch, counters, block);
        if (result >= 0)
        {
            return result;
        }

        // EAGAIN is the receive timeout (or nothing queued, not blocking); EINTR a signal. Both are "nothing this
        // time": the loop calls again.
        var errno = -result;
        if (errno is Errno.EAGAIN or Errno.EINTR || _shutdown)
        {
            return 0;
        }

        throw new UdpSocketException($"recvmmsg on {LocalAddress}", errno);
    }

    /// <summary>
    /// Sends every Forward slot of <paramref name="batch"/> to its destination, unmodified; returns how many the
    /// kernel accepted. Slots the kernel refuses are marked Drop(SendFailed); drops are not counted here.
    /// </summary>
    public int Send(PacketBatch batch, DataplaneCounters counters)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(counters);
        return _sender.Send(_fd, batch, counters);
    }

    /// <summary>Sends one datagram (tests, control traffic); returns the bytes sent.</summary>
    /// <exception cref="UdpSocketException">The kernel refused the datagram.</exception>
    public unsafe int SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination)
    {
        var address = destination;
        if (address.IsEmpty)
        {
            throw new ArgumentException("The destination names no address.", nameof(destination));
        }

        fixed (byte* buffer = datagram)
        {
            var sent = Libc.SendTo(_fd, buffer, (nuint)datagram.Length, 0, (byte*)&address, (uint)address.SockaddrLength);
            if (sent < 0)
            {
                ThrowHelper.ThrowLastError("sendto", address);
            }

            return (int)sent;
        }
    }

    /// <summary>
    /// Sends one datagram with an IP TTL (IPv6 hop limit) of its own: a control message on this one sendmsg, so
    /// the socket's default, and every datagram other threads send through it meanwhile, are left alone. Hole
    /// punching sends its first probes so that they open the sender's NAT and expire before the other side's.
    /// Returns the bytes sent.
    /// </summary>
    /// <exception cref="UdpSocketException">The kernel refused the datagram.</exception>
    public unsafe int SendTo(ReadOnlySpan<byte> datagram, in PeerAddress destination, int hopLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hopLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hopLimit, 255);
        var address = destination;
        if (address.IsEmpty)
        {
            throw new ArgumentException("The destination names no address.", nameof(destination));
        }

        // IPv6 sockets are IPv6-only (SocketConfiguration), so the destination's family is the packet's.
        var ipv4 = address.IsIPv4;
        var controlLength = CmsgHdr.Space(sizeof(int));
        var control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        var cmsg = (CmsgHdr*)control;
        cmsg->Length = (nuint)CmsgHdr.Len(sizeof(int));
        cmsg->Level = ipv4 ? IpProtoIp : IpProtoIpv6;
        cmsg->Type = ipv4 ? IpTtl : Ipv6HopLimit;
        *(int*)(control + CmsgHdr.Len(0)) = hopLimit;
        fixed (byte* buffer = datagram)
        {
            var iov = new IoVec { Base = buffer, Length = (nuint)datagram.Length };
            var message = new MsgHdr
            {
                Name = &address,
                NameLength = (uint)address.SockaddrLength,
                Iov = &iov,
                IovLength = 1,
                Control = control,
                ControlLength = (nuint)controlLength,
            };
            var sent = Libc.SendMsg(_fd, &message, 0);
            if (sent < 0)
            {
                ThrowHelper.ThrowLastError("sendmsg", address);
            }

            return (int)sent;
        }
    }

    /// <summary>
    /// Wakes a thread blocked in <see cref="Receive(PacketBatch, DataplaneCounters)"/>; every later Receive returns 0 at once. Safe from any thread.
    /// </summary>
    public void Shutdown()
    {
        _shutdown = true;

        // shutdown(2) acts on the socket, not the descriptor: a sending duplicate must not stop its owner's reads.
        if (_sendOnly || _fd.IsClosed)
        {
            return;
        }

        // On an unconnected UDP socket this returns ENOTCONN, yet the kernel still marks the receive side
        // shut down and wakes every sleeper, which is all we want from it.
        try
        {
            _ = Libc.Shutdown(_fd, ShutRd);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: the socket is gone, nothing left to wake.
        }
    }

    /// <summary>Wakes any blocked receiver and closes the socket (once the last in-flight call returns).</summary>
    public void Dispose()
    {
        Shutdown();
        _fd.Dispose();
    }
}
