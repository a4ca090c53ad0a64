using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_link_create(int prog_fd, int target_fd, enum bpf_attach_type attach_type, const struct bpf_link_create_opts *opts);
    // Returns a link fd, or a negative errno. Closing the last reference to the fd detaches the program.
    [LibraryImport(Name, EntryPoint = "bpf_link_create")]
    internal static unsafe partial int LinkCreate(int programFd, int targetFd, int attachType, BpfLinkCreateOpts* opts);
}
