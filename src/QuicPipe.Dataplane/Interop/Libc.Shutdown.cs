using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

internal static partial class Libc
{
    // int shutdown(int sockfd, int how);
    [LibraryImport(Name, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(SafeFdHandle fd, int how);
}
