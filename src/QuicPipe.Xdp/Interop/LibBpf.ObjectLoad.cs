using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_object__load(struct bpf_object *obj);
    [LibraryImport(Name, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(SafeBpfObjectHandle obj);
}
