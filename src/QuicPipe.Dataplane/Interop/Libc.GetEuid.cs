using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // uid_t geteuid(void);
    [LibraryImport(Name, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();
}
