using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count, const struct bpf_map_batch_opts *opts);
    // On return *count holds how many elements were updated, also on failure.
    [LibraryImport(Name, EntryPoint = "bpf_map_update_batch")]
    internal static unsafe partial int MapUpdateBatch(int fd, void* keys, void* values, uint* count, nint opts);
}
