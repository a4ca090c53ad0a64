using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int libbpf_num_possible_cpus(void);
    // Per-CPU map values hold one slot per possible CPU (not per online CPU).
    [LibraryImport(Name, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();
}
