using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    internal const int RlimitNoFile = 7; // RLIMIT_NOFILE on Linux

    // int getrlimit(int resource, struct rlimit *rlim);
    [LibraryImport(Name, EntryPoint = "getrlimit")]
    internal static partial int GetRLimit(int resource, out RLimit limit);
}
