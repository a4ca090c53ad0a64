using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace QuicPipe.Lab.Interop;

internal static partial class Libc
{
    /// <summary>CLONE_NEWNET: the namespace file must be a network namespace.</summary>
    internal const int CloneNewNet = 0x40000000;

    // int setns(int fd, int nstype);
    [LibraryImport(Name, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(SafeFileHandle fd, int nsType);
}
