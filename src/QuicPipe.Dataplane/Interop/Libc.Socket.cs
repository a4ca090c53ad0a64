using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int socket(int domain, int type, int protocol);
    [LibraryImport(Name, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);
}
