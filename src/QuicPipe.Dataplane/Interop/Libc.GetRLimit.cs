using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

internal static partial class Libc
{
    internal const int RlimitNoFile = 7; // RLIMIT_NOFILE on Linux

    // int getrlimit(int resource, struct rlimit *rlim);
    [LibraryImport(Name, EntryPoint = "getrlimit")]
    internal static partial int GetRLimit(int resource, out RLimit limit);
}
