using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
    [LibraryImport(Name, EntryPoint = "writev", SetLastError = true)]
    internal static unsafe partial nint Writev(SafeFdHandle fd, IoVec* vectors, int count);
}
