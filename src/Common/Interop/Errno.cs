namespace QuicPipe.Interop;

/// <summary>
/// The Linux errno values the projects branch on: the dataplane's socket layer and TUN device, and the XDP loader. Linked into each
/// project that needs them (src/Common/Interop), as Libc is.
/// </summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int ENXIO = 6;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int EACCES = 13;
    internal const int EBUSY = 16;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
    internal const int EBADFD = 77;
    internal const int EOPNOTSUPP = 95;
    internal const int EADDRINUSE = 98;
}
