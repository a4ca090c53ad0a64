using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Tun;

/// <summary>
/// <c>struct virtio_net_hdr</c> (10 bytes, host byte order): what a TUN device made with IFF_VNET_HDR puts before
/// each packet it hands over and expects before each packet it takes. It says whether the packet is a TCP or UDP
/// super-packet to be cut into <see cref="GsoSize"/>-byte segments, and whether a checksum is left to finish.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Size)]
internal struct VirtioNetHeader
{
    public const int Size = 10;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/> holds only the pseudo-header sum.</summary>
    public const byte NeedsChecksum = 1;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;

    /// <summary>VIRTIO_NET_HDR_GSO_ECN: the first segment carries CWR; the others must not.</summary>
    public const byte GsoEcn = 0x80;

    public byte Flags;
    public byte GsoType;
    public ushort HeaderLength;
    public ushort GsoSize;
    public ushort ChecksumStart;
    public ushort ChecksumOffset;

    public static VirtioNetHeader Read(ReadOnlySpan<byte> frame) => MemoryMarshal.Read<VirtioNetHeader>(frame);
}
