using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_program__fd(const struct bpf_program *prog);
    [LibraryImport(Name, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint program);
}
