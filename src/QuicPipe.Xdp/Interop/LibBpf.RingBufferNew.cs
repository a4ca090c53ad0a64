using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
    // struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx, const struct ring_buffer_opts *opts);
    [LibraryImport(Name, EntryPoint = "ring_buffer__new", SetLastError = true)]
    internal static unsafe partial SafeRingBufferHandle RingBufferNew(int mapFd, delegate* unmanaged<nint, byte*, nuint, int> sample, nint context, nint opts);
}
