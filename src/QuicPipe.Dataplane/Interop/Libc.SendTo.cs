using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // ssize_t sendto(int sockfd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen);
    [LibraryImport(Name, EntryPoint = "sendto", SetLastError = true)]
    internal static unsafe partial nint SendTo(SafeFdHandle fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength);
}
