using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // char *if_indextoname(unsigned int ifindex, char *ifname);
    // Writes at most IF_NAMESIZE (16) bytes, NUL included; null with errno set if there is no such interface.
    [LibraryImport(Name, EntryPoint = "if_indextoname", SetLastError = true)]
    internal static unsafe partial byte* IfIndexToName(uint index, byte* name);
}
