using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // void *bpf_map__initial_value(struct bpf_map *map, size_t *psize);
    [LibraryImport(Name, EntryPoint = "bpf_map__initial_value")]
    internal static unsafe partial byte* MapInitialValue(nint map, out nuint size);
}
