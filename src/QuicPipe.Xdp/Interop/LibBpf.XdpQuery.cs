using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_xdp_query(int ifindex, int flags, struct bpf_xdp_query_opts *opts);
    [LibraryImport(Name, EntryPoint = "bpf_xdp_query")]
    internal static unsafe partial int XdpQuery(int ifindex, int flags, BpfXdpQueryOpts* opts);
}
