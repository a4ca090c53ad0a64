using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int shutdown(int sockfd, int how);
    [LibraryImport(Name, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(SafeFdHandle fd, int how);
}
