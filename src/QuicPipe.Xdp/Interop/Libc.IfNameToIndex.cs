using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // unsigned int if_nametoindex(const char *ifname);
    // Resolves in the calling thread's network namespace; 0 with errno set if there is no such interface.
    [LibraryImport(Name, EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial uint IfNameToIndex(string name);
}
