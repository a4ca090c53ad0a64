using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map_lookup_elem(int fd, const void *key, void *value);
    [LibraryImport(Name, EntryPoint = "bpf_map_lookup_elem")]
    internal static unsafe partial int MapLookupElem(int fd, void* key, void* value);
}
