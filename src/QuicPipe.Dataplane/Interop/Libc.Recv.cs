using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // ssize_t recv(int sockfd, void *buf, size_t len, int flags);
    [LibraryImport(Name, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(SafeFdHandle fd, byte* buffer, nuint length, int flags);
}
