using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // void ring_buffer__free(struct ring_buffer *rb);
    [LibraryImport(Name, EntryPoint = "ring_buffer__free")]
    internal static partial void RingBufferFree(nint ringBuffer);
}
