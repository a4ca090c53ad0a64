using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct statx</c> (linux/stat.h), the fields read of it: unlike <c>struct stat</c> its layout is the same on
/// every architecture (fixed-width fields), so one mirror serves them all. 256 bytes, the rest reserved.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct Statx
{
    /// <summary>S_IFMT: the file type bits of <see cref="Mode"/>.</summary>
    internal const ushort TypeMask = 0xf000;
    internal const ushort TypeRegular = 0x8000;  // S_IFREG
    internal const ushort TypeDirectory = 0x4000; // S_IFDIR
    internal const ushort TypeFifo = 0x1000;      // S_IFIFO

    [FieldOffset(0)]
    internal uint Mask;

    [FieldOffset(20)]
    internal uint Uid;

    [FieldOffset(24)]
    internal uint Gid;

    [FieldOffset(28)]
    internal ushort Mode;

    [FieldOffset(40)]
    internal ulong Size;
}
