using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);
    [LibraryImport(Name, EntryPoint = "bpf_prog_test_run_opts")]
    internal static unsafe partial int ProgTestRunOpts(int programFd, BpfTestRunOpts* opts);
}
