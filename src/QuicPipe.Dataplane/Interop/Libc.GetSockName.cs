using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen);
    [LibraryImport(Name, EntryPoint = "getsockname", SetLastError = true)]
    internal static unsafe partial int GetSockName(SafeFdHandle fd, byte* address, uint* addressLength);
}
