using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map__fd(const struct bpf_map *map);
    [LibraryImport(Name, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);
}
