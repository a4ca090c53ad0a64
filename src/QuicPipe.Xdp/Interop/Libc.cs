using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary>The few glibc calls the XDP loader needs. One file per native function.</summary>
internal static partial class Libc
{
    internal const string Name = "libc.so.6";

    // int close(int fd);
    [LibraryImport(Name, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
