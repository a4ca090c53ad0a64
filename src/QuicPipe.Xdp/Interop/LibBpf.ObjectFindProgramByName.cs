using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name);
    [LibraryImport(Name, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindProgramByName(SafeBpfObjectHandle obj, string name);
}
