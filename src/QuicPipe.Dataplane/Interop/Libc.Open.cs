using System.Runtime.InteropServices;

namespace QuicPipe.Interop;

internal static partial class Libc
{
    // int open(const char *pathname, int flags, ... /* mode_t mode */);
    // Declared without the variadic mode: it is read only with O_CREAT or O_TMPFILE, which no caller passes.
    [LibraryImport(Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);
}
