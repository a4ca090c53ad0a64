using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;
using static QuicPipe.Dataplane.Interop.SocketConstants;

namespace QuicPipe.Dataplane.Internal;

/// <summary>Applies <see cref="UdpSocketOptions"/> to a fresh, unbound socket and probes the offloads.</summary>
internal static unsafe class SocketConfiguration
{
    /// <summary>Sets every option that must precede bind; throws <see cref="UdpSocketException"/> naming <paramref name="local"/>.</summary>
    internal static void Apply(SafeFdHandle fd, in PeerAddress local, UdpSocketOptions options, out bool groActive, out bool gsoActive)
    {
        if (local.IsIPv6)
        {
            // One socket per family: a dual-stack socket would hand us v4-mapped addresses that compare
            // unequal to the same peer seen on a v4 socket.
            SetOrThrow(fd, IpProtoIpv6, Ipv6V6Only, 1, "IPV6_V6ONLY", local);
        }

        if (options.ReusePort)
        {
            SetOrThrow(fd, SolSocket, SoReusePort, 1, "SO_REUSEPORT", local);
        }

        SetBuffer(fd, SoRcvbufForce, SoRcvbuf, options.ReceiveBufferBytes, "SO_RCVBUF", local);
        SetBuffer(fd, SoSndbufForce, SoSndbuf, options.SendBufferBytes, "SO_SNDBUF", local);
        SetReceiveTimeout(fd, options.ReceiveTimeout, local);

        // Both offloads are optional: an old kernel answers ENOPROTOOPT and we run without them.
        groActive = options.EnableGro && TrySet(fd, SolUdp, UdpGro, 1) == 0;
        gsoActive = options.EnableGso && SupportsGso(fd);
    }

    /// <summary>Sets an int option; returns 0 or the errno.</summary>
    internal static int TrySet(SafeFdHandle fd, int level, int name, int value)
    {
        return Libc.SetSockOpt(fd, level, name, &value, sizeof(int)) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private static void SetOrThrow(SafeFdHandle fd, int level, int name, int value, string optionName, in PeerAddress local)
    {
        var errno = TrySet(fd, level, name, value);
        if (errno != 0)
        {
            throw new UdpSocketException($"setsockopt {optionName} on {local}", errno);
        }
    }

    private static void SetBuffer(SafeFdHandle fd, int forceName, int name, int bytes, string optionName, in PeerAddress local)
    {
        // The *FORCE variant lifts the rmem_max/wmem_max cap but needs CAP_NET_ADMIN; EPERM without it.
        if (TrySet(fd, SolSocket, forceName, bytes) != 0)
        {
            SetOrThrow(fd, SolSocket, name, bytes, optionName, local);
        }
    }

    private static void SetReceiveTimeout(SafeFdHandle fd, TimeSpan timeout, in PeerAddress local)
    {
        // A zero timeval means "no timeout" to the kernel, which is also what Zero and Infinite mean to us.
        var value = default(TimeVal);
        if (timeout > TimeSpan.Zero)
        {
            var microseconds = Math.Max(1, (long)Math.Ceiling(timeout.Ticks / (double)TimeSpan.TicksPerMicrosecond));
            value.Seconds = microseconds / 1_000_000;
            value.Microseconds = microseconds % 1_000_000;
        }

        if (Libc.SetSockOpt(fd, SolSocket, SoRcvtimeo, &value, (uint)sizeof(TimeVal)) != 0)
        {
            ThrowHelper.ThrowLastError("setsockopt SO_RCVTIMEO on", local);
        }
    }

    /// <summary>Kernels that know UDP_SEGMENT (4.18+) answer getsockopt for it; older ones say ENOPROTOOPT.</summary>
    private static bool SupportsGso(SafeFdHandle fd)
    {
        var value = 0;
        var length = (uint)sizeof(int);
        return Libc.GetSockOpt(fd, SolUdp, UdpSegment, &value, &length) == 0;
    }
}
