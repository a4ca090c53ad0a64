using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct ifreq</c> (40 bytes on LP64 Linux) as TUNSETIFF reads it: <c>char ifr_name[IFNAMSIZ]</c>, then the
/// union whose <c>short ifr_flags</c> carries the IFF_TUN / IFF_NO_PI / IFF_VNET_HDR request.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct IfReq
{
    /// <summary>IFNAMSIZ: the name with its terminating NUL.</summary>
    internal const int NameSize = 16;

    [FieldOffset(0)]
    public fixed byte Name[NameSize];

    [FieldOffset(16)]
    public short Flags;
}
