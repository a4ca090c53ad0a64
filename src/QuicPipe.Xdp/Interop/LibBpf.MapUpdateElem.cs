using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
    [LibraryImport(Name, EntryPoint = "bpf_map_update_elem")]
    internal static unsafe partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);
}
