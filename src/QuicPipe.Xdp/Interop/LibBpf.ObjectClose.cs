using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // void bpf_object__close(struct bpf_object *obj);
    [LibraryImport(Name, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);
}
