using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }</c> (16 bytes on LP64 Linux),
/// followed by the data, padded to 8 bytes. Helpers mirror the CMSG_* macros.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct CmsgHdr
{
    [FieldOffset(0)]
    public nuint Length;

    [FieldOffset(8)]
    public int Level;

    [FieldOffset(12)]
    public int Type;

    /// <summary>CMSG_ALIGN: control messages are padded to sizeof(size_t).</summary>
    internal static int Align(int length) => (length + 7) & ~7;

    /// <summary>CMSG_LEN: header plus <paramref name="dataLength"/>, unpadded; goes in <see cref="Length"/>.</summary>
    internal static int Len(int dataLength) => Align(16) + dataLength;

    /// <summary>CMSG_SPACE: room one control message takes in msg_control.</summary>
    internal static int Space(int dataLength) => Align(16) + Align(dataLength);
}
