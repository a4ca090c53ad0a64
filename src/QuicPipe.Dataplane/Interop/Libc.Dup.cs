using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int fcntl(int fd, int cmd, ... /* arg */): F_DUPFD_CLOEXEC, so the duplicate is not inherited by children.
    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(SafeFdHandle fd, int command, int argument);
}
