using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // const char *libbpf_version_string(void);
    // "v1.1": libbpf reports its major and minor version only.
    [LibraryImport(Name, EntryPoint = "libbpf_version_string")]
    internal static partial nint VersionString();
}
