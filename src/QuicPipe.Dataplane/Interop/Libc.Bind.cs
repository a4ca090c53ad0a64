using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen);
    [LibraryImport(Name, EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(SafeFdHandle fd, byte* address, uint addressLength);
}
