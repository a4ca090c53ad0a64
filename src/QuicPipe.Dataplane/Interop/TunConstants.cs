namespace QuicPipe.Dataplane.Interop;

/// <summary>Linux values from linux/if_tun.h and fcntl.h for the TUN character device.</summary>
internal static class TunConstants
{
    internal const string DevicePath = "/dev/net/tun";

    internal const int ORdWr = 0x2;
    internal const int ONonBlock = 0x800;
    internal const int OCloexec = 0x80000;

    // _IOW('T', 202, int)
    internal const nuint TunSetIff = 0x400454CA;

    internal const short IffTun = 0x0001;
    internal const short IffTap = 0x0002;
    internal const short IffNoPi = 0x1000;
}
