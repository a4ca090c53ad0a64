using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct iovec { void *iov_base; size_t iov_len; }</c> (16 bytes on LP64 Linux).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal unsafe struct IoVec
{
    [FieldOffset(0)]
    public byte* Base;

    [FieldOffset(8)]
    public nuint Length;
}
