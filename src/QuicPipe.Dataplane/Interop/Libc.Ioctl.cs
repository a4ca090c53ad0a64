using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int ioctl(int fd, unsigned long request, ... /* void *argp */);
    // Declared with the one pointer argument the TUN requests take; on x86_64 and aarch64 Linux a variadic
    // pointer travels in the same register as a fixed one.
    [LibraryImport(Name, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(SafeFdHandle fd, nuint request, void* argument);
}
