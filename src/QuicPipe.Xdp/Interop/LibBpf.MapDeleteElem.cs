using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map_delete_elem(int fd, const void *key);
    [LibraryImport(Name, EntryPoint = "bpf_map_delete_elem")]
    internal static unsafe partial int MapDeleteElem(int fd, void* key);
}
