using System.Buffers.Binary;

namespace QuicPipe.Dataplane.Tun;

/// <summary>
/// Cuts the frames an offloading TUN device (<see cref="TunDeviceOptions.Offload"/>) hands over into the IP packets
/// a sender without offloads would have written: a TCP or UDP super-packet of up to 64 KiB becomes
/// <see cref="VirtioNetHeader.GsoSize"/>-byte segments, each with its own headers (lengths, IPv4 identification,
/// TCP sequence number and flags) and a finished checksum; a single packet whose checksum the kernel left partial
/// gets it finished. One frame at a time, one segment per <see cref="WriteNext"/>, so a batch that fills up in the
/// middle of a frame goes through the pipeline and the rest follows in the next. Allocates nothing after construction.
/// </summary>
/// <remarks>
/// The kernel cuts super-packets itself (skb_segment) for a device without TSO, packet by packet in the sender's
/// context; handing them over whole costs one read per 64 KiB instead of one per segment, and the cutting here is
/// a copy and a checksum per segment.
/// </remarks>
internal sealed class TunFrameSplitter
{
    /// <summary>The largest frame a device reads: the header and a 64 KiB super-packet, with room to spare.</summary>
    public const int FrameBufferSize = VirtioNetHeader.Size + 65536 + 256;

    private const int IPv4MinHeader = 20;
    private const int IPv6Header = 40;
    private const int TcpMinHeader = 20;
    private const int UdpHeader = 8;
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;
    private const int TcpChecksumOffset = 16;
    private const int UdpChecksumOffset = 6;

    private readonly byte[] _frame = new byte[FrameBufferSize];

    // The loaded frame: its packet (after the virtio header), and where the next segment's payload starts.
    private int _packetLength;
    private int _headersLength;
    private int _transportOffset;
    private int _segmentSize;
    private int _nextPayload;
    private int _segmentIndex;
    private bool _isUdp;
    private bool _clearCwrAfterFirst;

    /// <summary>Where the device reads the next frame (virtio header first).</summary>
    public Span<byte> Buffer => _frame;

    /// <summary>The loaded frame is a super-packet to be cut, not a single packet.</summary>
    public bool IsSuperPacket => _segmentSize != 0;

    /// <summary>Segments of the loaded frame are still to be written.</summary>
    public bool HasPending => _nextPayload < _packetLength;

    /// <summary>
    /// Takes the frame of <paramref name="frameLength"/> bytes just read into <see cref="Buffer"/>. False for a frame
    /// that cannot be cut (too short, an unknown GSO type, headers that run past the packet, a zero segment size):
    /// the caller counts it as dropped. A plain packet has its partial checksum finished here.
    /// </summary>
    public bool Load(int frameLength)
    {
        _nextPayload = _packetLength = 0;
        if (frameLength <= VirtioNetHeader.Size)
        {
            return false;
        }

        var header = VirtioNetHeader.Read(_frame);
        var packet = _frame.AsSpan(VirtioNetHeader.Size, frameLength - VirtioNetHeader.Size);
        var gsoType = (byte)(header.GsoType & ~VirtioNetHeader.GsoEcn);
        if (gsoType == VirtioNetHeader.GsoNone)
        {
            if ((header.Flags & VirtioNetHeader.NeedsChecksum) != 0 && !FinishPartialChecksum(packet, header.ChecksumStart, header.ChecksumOffset))
            {
                return false;
            }

            // One segment that is the whole packet: WriteNext copies it as it is.
            _isUdp = false;
            _segmentSize = _headersLength = 0;
            _transportOffset = 0;
            _segmentIndex = 0;
            _packetLength = packet.Length;
            return true;
        }

        if (header.GsoSize == 0 || !TryFindTransport(packet, header, out var transportOffset, out var protocol))
        {
            return false;
        }

        var isUdp = gsoType == VirtioNetHeader.GsoUdpL4;
        if ((isUdp ? ProtocolUdp : ProtocolTcp) != protocol || gsoType is not (VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6 or VirtioNetHeader.GsoUdpL4))
        {
            return false;
        }

        var transportHeader = isUdp ? UdpHeader : TcpHeaderLength(packet, transportOffset);
        if (transportHeader == 0 || transportOffset + transportHeader >= packet.Length)
        {
            return false;
        }

        _isUdp = isUdp;
        _clearCwrAfterFirst = (header.GsoType & VirtioNetHeader.GsoEcn) != 0;
        _transportOffset = transportOffset;
        _headersLength = transportOffset + transportHeader;
        _segmentSize = header.GsoSize;
        _segmentIndex = 0;
        _nextPayload = _headersLength;
        _packetLength = packet.Length;
        return true;
    }

    /// <summary>
    /// Writes the next packet of the loaded frame into <paramref name="destination"/> and returns its length; 0 when
    /// it does not fit there (the rest of the frame is abandoned: the caller counts a drop).
    /// </summary>
    public int WriteNext(Span<byte> destination)
    {
        var packet = _frame.AsSpan(VirtioNetHeader.Size, _packetLength);
        if (_segmentSize == 0)
        {
            _nextPayload = _packetLength;
            if (packet.Length > destination.Length)
            {
                return 0;
            }

            packet.CopyTo(destination);
            return packet.Length;
        }

        var payload = Math.Min(_segmentSize, _packetLength - _nextPayload);
        var length = _headersLength + payload;
        if (length > destination.Length)
        {
            _nextPayload = _packetLength;
            return 0;
        }

        var segment = destination[..length];
        packet[.._headersLength].CopyTo(segment);
        packet.Slice(_nextPayload, payload).CopyTo(segment[_headersLength..]);
        var last = _nextPayload + payload == _packetLength;
        WriteIpHeader(segment, _transportOffset, _segmentIndex);
        var transport = segment[_transportOffset..];
        if (_isUdp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport[4..], (ushort)transport.Length);
            FinishChecksum(segment, _transportOffset, UdpChecksumOffset, ProtocolUdp);
        }
        else
        {
            var firstSequence = BinaryPrimitives.ReadUInt32BigEndian(packet[(_transportOffset + 4)..]);
            BinaryPrimitives.WriteUInt32BigEndian(transport[4..], firstSequence + (uint)(_nextPayload - _headersLength));
            if (!last)
            {
                transport[13] &= unchecked((byte)~(TcpFin | TcpPsh));
            }

            if (_clearCwrAfterFirst && _segmentIndex > 0)
            {
                transport[13] &= unchecked((byte)~TcpCwr);
            }

            FinishChecksum(segment, _transportOffset, TcpChecksumOffset, ProtocolTcp);
        }

        _nextPayload += payload;
        _segmentIndex++;
        return length;
    }

    // The transport header's offset: checksum start when the kernel gave one (it skips IPv6 extension headers),
    // else right after the fixed IP header.
    private static bool TryFindTransport(ReadOnlySpan<byte> packet, in VirtioNetHeader header, out int offset, out byte protocol)
    {
        offset = 0;
        protocol = 0;
        switch (packet[0] >> 4)
        {
            case 4 when packet.Length >= IPv4MinHeader:
                var headerLength = (packet[0] & 0x0F) * 4;
                offset = headerLength;
                protocol = packet[9];
                return headerLength >= IPv4MinHeader
                    && ((header.Flags & VirtioNetHeader.NeedsChecksum) == 0 || header.ChecksumStart == headerLength);
            case 6 when packet.Length >= IPv6Header:
                if ((header.Flags & VirtioNetHeader.NeedsChecksum) != 0 && header.ChecksumStart > IPv6Header)
                {
                    // Extension headers: the last one's next-header field is not at hand; the GSO type says it.
                    offset = header.ChecksumStart;
                    protocol = (header.GsoType & ~VirtioNetHeader.GsoEcn) == VirtioNetHeader.GsoUdpL4 ? ProtocolUdp : ProtocolTcp;
                    return offset < packet.Length;
                }

                offset = IPv6Header;
                protocol = packet[6];
                return true;
            default:
                return false;
        }
    }

    private static int TcpHeaderLength(ReadOnlySpan<byte> packet, int offset)
    {
        if (offset + TcpMinHeader > packet.Length)
        {
            return 0;
        }

        var length = (packet[offset + 12] >> 4) * 4;
        return length >= TcpMinHeader ? length : 0;
    }

    // Lengths of this segment; IPv4 also a fresh identification per segment and the header checksum.
    private static void WriteIpHeader(Span<byte> segment, int transportOffset, int index)
    {
        if (segment[0] >> 4 == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)segment.Length);
            var identification = BinaryPrimitives.ReadUInt16BigEndian(segment[4..]);
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(identification + index));
            InternetChecksum.WriteIPv4HeaderChecksum(segment[..transportOffset]);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(segment.Length - IPv6Header));
        }
    }

    // The full transport checksum of the segment: pseudo-header, then header and payload with the field zeroed.
    private static void FinishChecksum(Span<byte> segment, int transportOffset, int checksumOffset, byte protocol)
    {
        var transport = segment[transportOffset..];
        transport[checksumOffset] = transport[checksumOffset + 1] = 0;
        var sum = InternetChecksum.PseudoHeaderSum(segment, protocol, transport.Length);
        var checksum = InternetChecksum.Finish(InternetChecksum.Sum(transport, sum));

        // UDP sends a computed zero as all ones: zero means "no checksum".
        if (checksum == 0 && protocol == ProtocolUdp)
        {
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(transport[checksumOffset..], checksum);
    }

    // The field already holds the pseudo-header sum: the rest is the sum from the checksum start to the end.
    private static bool FinishPartialChecksum(Span<byte> packet, int start, int offset)
    {
        if (start + offset + 2 > packet.Length)
        {
            return false;
        }

        var checksum = InternetChecksum.Compute(packet[start..]);
        if (checksum == 0 && offset == UdpChecksumOffset)
        {
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet[(start + offset)..], checksum);
        return true;
    }
}
