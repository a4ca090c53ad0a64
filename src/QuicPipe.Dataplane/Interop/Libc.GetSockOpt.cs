using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen);
    [LibraryImport(Name, EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(SafeFdHandle fd, int level, int name, void* value, uint* valueLength);
}
