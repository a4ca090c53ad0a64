namespace QuicPipe.Dataplane.Interop;

/// <summary>The Linux errno values the socket layer branches on.</summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int EINTR = 4;
    internal const int EIO = 5;
    internal const int EAGAIN = 11;
    internal const int EINVAL = 22;
}
