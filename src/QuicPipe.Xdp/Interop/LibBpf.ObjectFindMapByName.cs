using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name);
    [LibraryImport(Name, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindMapByName(SafeBpfObjectHandle obj, string name);
}
