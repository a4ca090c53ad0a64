using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int close(int fd);
    [LibraryImport(Name, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
