namespace QuicPipe.Dataplane.Interop;

/// <summary>The C library the socket calls bind to. One partial class; one file per native function.</summary>
internal static partial class Libc
{
    /// <summary>
    /// The glibc soname. "libc" alone would make the loader try "libc.so", which on Debian is a linker
    /// script, not an ELF library.
    /// </summary>
    internal const string Name = "libc.so.6";
}
