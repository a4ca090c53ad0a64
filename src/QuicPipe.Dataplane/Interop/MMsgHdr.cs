using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; }</c> (64 bytes on LP64 Linux):
/// one entry of a recvmmsg/sendmmsg vector. The kernel writes the byte count into <see cref="Length"/>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct MMsgHdr
{
    [FieldOffset(0)]
    public MsgHdr Header;

    [FieldOffset(56)]
    public uint Length;
}
