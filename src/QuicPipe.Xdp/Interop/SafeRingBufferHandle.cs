using System.Runtime.InteropServices;

namespace QuicPipe.Xdp.Interop;

/// <summary>Owns a libbpf <c>struct ring_buffer</c> (its mmap of the map and its epoll fd).</summary>
internal sealed class SafeRingBufferHandle : SafeHandle
{
    public SafeRingBufferHandle()
        : base(invalidHandleValue: 0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibBpf.RingBufferFree(handle);
        return true;
    }
}
