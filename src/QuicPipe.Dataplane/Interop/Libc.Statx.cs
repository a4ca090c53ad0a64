using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    internal const int AtFdCwd = -100;         // AT_FDCWD
    internal const uint StatxBasicStats = 0x7ff; // STATX_BASIC_STATS

    // int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *statxbuf);
    [LibraryImport(Name, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(int directory, string path, int flags, uint mask, out Statx status);
}
