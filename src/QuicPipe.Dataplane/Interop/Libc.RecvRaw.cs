using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // ssize_t recv(int sockfd, void *buf, size_t len, int flags); for a descriptor another SafeHandle owns and the
    // caller keeps referenced (DangerousAddRef) for as long as it reads.
    [LibraryImport(Name, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint RecvFromDescriptor(int fd, byte* buffer, nuint length, int flags);
}
