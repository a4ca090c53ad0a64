using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
    [LibraryImport(Name, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(SafeFdHandle fd, int level, int name, void* value, uint valueLength);
}
