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
    internal const short IffVnetHdr = 0x4000;

    // _IOW('T', 208, unsigned int): the argument is the flag word itself, not a pointer to it.
    internal const nuint TunSetOffload = 0x400454D0;

    // What the reader can take unfinished: partial checksums, TCP and UDP segmentation offload.
    internal const uint TunFCsum = 0x01;
    internal const uint TunFTso4 = 0x02;
    internal const uint TunFTso6 = 0x04;
    internal const uint TunFUso4 = 0x20;
    internal const uint TunFUso6 = 0x40;
}
