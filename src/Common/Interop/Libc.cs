namespace QuicPipe.Interop;

/// <summary>
/// The C library the projects' native calls bind to. One partial class, linked from src/Common/Interop into each
/// project that calls libc; each project adds its own imports in its Interop folder, one file per native function.
/// </summary>
internal static partial class Libc
{
    /// <summary>
    /// The glibc soname. "libc" alone would make the loader try "libc.so", which on Debian is a linker
    /// script, not an ELF library.
    /// </summary>
    internal const string Name = "libc.so.6";
}
