using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map__set_max_entries(struct bpf_map *map, __u32 max_entries);
    [LibraryImport(Name, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(nint map, uint maxEntries);
}
