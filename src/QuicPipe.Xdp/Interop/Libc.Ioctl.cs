using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int ioctl(int fd, unsigned long request, ... /* void *argp */);
    // Declared with the one pointer argument SIOCETHTOOL takes; on x86_64 and aarch64 Linux a variadic
    // pointer travels in the same register as a fixed one.
    [LibraryImport(Name, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, void* argument);
}
