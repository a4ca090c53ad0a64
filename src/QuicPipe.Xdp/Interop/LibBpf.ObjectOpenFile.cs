using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts);
    [LibraryImport(Name, EntryPoint = "bpf_object__open_file", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial SafeBpfObjectHandle ObjectOpenFile(string path, nint opts);
}
