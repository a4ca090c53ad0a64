namespace QuicPipe.Lab.Interop;

/// <summary>The C library calls the lab needs. One partial class; one file per native function.</summary>
internal static partial class Libc
{
    /// <summary>The glibc soname ("libc" alone would find Debian's libc.so linker script).</summary>
    internal const string Name = "libc.so.6";
}
