namespace QuicPipe.Dataplane.Interop;

/// <summary>Linux (x86_64/aarch64) values from sys/socket.h, netinet/in.h and linux/udp.h.</summary>
internal static class SocketConstants
{
    internal const int SockDgram = 2;

    // Close-on-exec so child processes (tests spawn tools) never inherit the relay's sockets.
    internal const int SockCloexec = 0x80000;

    internal const int IpProtoIp = 0;
    internal const int IpProtoUdp = 17;
    internal const int IpProtoIpv6 = 41;

    internal const int SolSocket = 1;
    internal const int SolUdp = 17;

    internal const int SoSndbuf = 7;
    internal const int SoRcvbuf = 8;
    internal const int SoNoCheck = 11;
    internal const int SoReusePort = 15;
    internal const int SoRcvtimeo = 20;
    internal const int SoSndbufForce = 32;
    internal const int SoRcvbufForce = 33;

    internal const int Ipv6V6Only = 26;

    // Per-datagram TTL / hop limit as a control message of sendmsg (level IpProtoIp / IpProtoIpv6).
    internal const int IpTtl = 2;
    internal const int Ipv6HopLimit = 52;

    internal const int UdpSegment = 103;
    internal const int UdpGro = 104;

    internal const int MsgTrunc = 0x20;
    internal const int MsgDontWait = 0x40;
    internal const int MsgWaitForOne = 0x10000;

    internal const int ShutRd = 0;

    // fcntl command: duplicate with FD_CLOEXEC set.
    internal const int FDupFdCloexec = 1030;
}
