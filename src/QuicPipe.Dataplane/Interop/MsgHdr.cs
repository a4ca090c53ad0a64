using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct msghdr</c> (56 bytes on LP64 Linux):
/// <code>
/// void *msg_name;        // 0
/// socklen_t msg_namelen; // 8  (u32, then 4 bytes padding)
/// struct iovec *msg_iov; // 16
/// size_t msg_iovlen;     // 24
/// void *msg_control;     // 32
/// size_t msg_controllen; // 40
/// int msg_flags;         // 48 (then 4 bytes padding)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal unsafe struct MsgHdr
{
    [FieldOffset(0)]
    public void* Name;

    [FieldOffset(8)]
    public uint NameLength;

    [FieldOffset(16)]
    public IoVec* Iov;

    [FieldOffset(24)]
    public nuint IovLength;

    [FieldOffset(32)]
    public byte* Control;

    [FieldOffset(40)]
    public nuint ControlLength;

    [FieldOffset(48)]
    public int Flags;
}
