using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

internal static partial class LibBpf
{
    // int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
    // Returns the number of records consumed, or a negative errno.
    [LibraryImport(Name, EntryPoint = "ring_buffer__poll")]
    internal static partial int RingBufferPoll(SafeRingBufferHandle ringBuffer, int timeoutMs);
}
