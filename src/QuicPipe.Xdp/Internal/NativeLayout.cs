using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane;

namespace QuicPipe.Xdp.Internal;

/// <summary>Mirror of <c>struct qp_cid_key</c>: the CID in 20 bytes, bytes past its length zero.</summary>
[InlineArray(ConnectionId.MaxLength)]
internal struct CidKey
{
    private byte _element0;

    public static CidKey From(ConnectionId cid)
    {
        var key = default(CidKey);
        cid.Span.CopyTo(key);
        return key;
    }
}

/// <summary>16 address bytes: IPv4 in the first 4, IPv6 in all.</summary>
[InlineArray(16)]
internal struct AddressBytes
{
    private byte _element0;
}

/// <summary>Mirror of <c>struct qp_route</c> (36 bytes), the tail of a <see cref="RouteSlot"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 36)]
internal struct RouteValue
{
    public AddressBytes PeerAddress;
    public AddressBytes RelayAddress;
    public ushort PeerPortBigEndian; // stored as the wire bytes: read/write via BinaryPrimitives on the span
    public byte Family;
    public byte Reserved;
}

/// <summary>Mirror of <c>struct qp_listen_key</c> (20 bytes): an all-zero address is the family's wildcard.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 20)]
internal struct ListenKey
{
    public byte Family;
    public byte Reserved;
    public ushort PortBigEndian; // stored as the wire bytes
    public AddressBytes Address;
}

/// <summary>Mirror of <c>struct qp_miss_event</c> (48 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 48)]
internal struct MissEventRecord
{
    public CidKey Cid;
    public byte CidLength;
    public byte Family;
    public ushort SourcePortBigEndian;
    public AddressBytes SourceAddress;
    public uint InterfaceIndex;
    public ushort DestinationPortBigEndian;
    public ushort Reserved;
}

/// <summary>
/// Mirror of <c>struct qp_route_slot</c> (64 bytes, one cache line): one slot of the mmap'ed route table. Written by
/// <see cref="RouteSlotTable"/> under a seqlock on <see cref="Sequence"/> (odd while a write is under way).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 64)]
internal struct RouteSlot
{
    public const byte Empty = 0; // QP_SLOT_EMPTY
    public const byte Used = 1; // QP_SLOT_USED

    public uint Sequence;
    public byte State;
    public byte Reserved0;
    public byte Reserved1;
    public byte Reserved2;
    public CidKey Cid;
    public RouteValue Route;
}

/// <summary>Mirror of <c>struct qp_config</c>, the program's .rodata (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
internal struct ProgramConfig
{
    public byte CidLength;
    public byte Reserved0;
    public byte Reserved1;
    public byte Reserved2;
    public uint RouteMask;
    public ulong HashKey0;
    public ulong HashKey1;
}
