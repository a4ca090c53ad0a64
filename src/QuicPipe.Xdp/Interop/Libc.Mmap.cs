using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    internal const int ProtRead = 0x1; // PROT_READ
    internal const int ProtWrite = 0x2; // PROT_WRITE
    internal const int MapShared = 0x01; // MAP_SHARED

    /// <summary>MAP_FAILED, what mmap returns instead of an address when it fails.</summary>
    internal static readonly nint MapFailed = -1;

    // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
    [LibraryImport(Name, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);
}
