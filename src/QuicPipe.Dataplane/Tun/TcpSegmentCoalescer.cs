using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Tun;

/// <summary>Where <see cref="TcpSegmentCoalescer"/> puts what it has: single packets, or super-packets behind a virtio header.</summary>
internal interface ITunFrameOutput
{
    /// <summary>One IP packet as it came.</summary>
    void WritePacket(ReadOnlySpan<byte> packet);

    /// <summary>
    /// A <see cref="VirtioNetHeader"/> and a TCP super-packet the kernel takes as <paramref name="segments"/>
    /// segments that added up to <paramref name="packetBytes"/> bytes of IP packets.
    /// </summary>
    void WriteSuperPacket(ReadOnlySpan<byte> frame, int segments, int packetBytes);
}

/// <summary>
/// Receive offload for a TUN device: consecutive in-order segments of one TCP flow, as a peer's DATAGRAMs bring
/// them in one receive batch, are joined into one super-packet (up to 64 KiB) that the kernel takes in one write
/// and its TCP stack processes as one (what GRO does for a NIC). Anything else passes through unchanged, and a
/// flow's held bytes always go out before a packet of that flow that cannot join them, so no flow is reordered.
/// The owner calls <see cref="Flush"/> at the end of each batch: nothing is held longer. One thread at a time.
/// </summary>
/// <remarks>
/// Segments join only when the kernel could cut the result back into exactly them: same addresses, ports, IP
/// fields (TOS, TTL, DF; IPv6 class, flow label and hop limit), acknowledgement, window, TCP options, flags ACK
/// (PSH on the last), each the size of the first but the last, sequence numbers back to back. A segment's
/// checksum is not checked again: the DATAGRAM that carried it was authenticated by the QUIC connection, and the
/// super-packet goes to the kernel with a partial checksum, as from a NIC that checked it.
/// </remarks>
internal sealed class TcpSegmentCoalescer(ITunFrameOutput output)
{
    /// <summary>Flows held at once; a new flow beyond them sends the oldest out.</summary>
    public const int MaxFlows = 8;

    private const int MaxPacket = 65535;
    private const byte ProtocolTcp = 6;
    private const byte FlagAck = 0x10;
    private const byte FlagPsh = 0x08;
    private const int TcpChecksumOffset = 16;

    private readonly HeldFlow?[] _flows = new HeldFlow?[MaxFlows];
    private int _nextEvicted;

    /// <summary>Takes one IP packet: joined to a held flow, held as a new one, or written now.</summary>
    public void Add(ReadOnlySpan<byte> packet)
    {
        if (!TcpSegment.TryParse(packet, out var segment))
        {
            output.WritePacket(packet);
            return;
        }

        var flow = Find(packet, segment);
        if (flow is not null)
        {
            if (flow.TryAppend(packet, segment))
            {
                return;
            }

            Send(flow);
        }

        // Only a plain data segment can start a run; PSH, SYN, FIN, RST, URG, ECN marks and pure ACKs go now.
        if (segment.PayloadLength == 0 || segment.Flags != FlagAck)
        {
            output.WritePacket(packet);
            return;
        }

        Hold(packet, segment);
    }

    /// <summary>Writes every held flow: the end of a batch.</summary>
    public void Flush()
    {
        foreach (var flow in _flows)
        {
            if (flow is { IsHeld: true })
            {
                Send(flow);
            }
        }
    }

    private HeldFlow? Find(ReadOnlySpan<byte> packet, in TcpSegment segment)
    {
        foreach (var flow in _flows)
        {
            if (flow is { IsHeld: true } && flow.IsSameFlow(packet, segment))
            {
                return flow;
            }
        }

        return null;
    }

    private void Hold(ReadOnlySpan<byte> packet, in TcpSegment segment)
    {
        HeldFlow? free = null;
        for (var i = 0; i < _flows.Length && free is null; i++)
        {
            if (_flows[i] is not { IsHeld: true })
            {
                free = _flows[i] ??= new HeldFlow();
            }
        }

        if (free is null)
        {
            free = _flows[_nextEvicted]!;
            _nextEvicted = (_nextEvicted + 1) % _flows.Length;
            Send(free);
        }

        free.Start(packet, segment);
    }

    private void Send(HeldFlow flow)
    {
        if (flow.Segments == 1)
        {
            output.WritePacket(flow.Packet);
        }
        else
        {
            output.WriteSuperPacket(flow.FinishSuperPacket(), flow.Segments, flow.PacketBytes);
        }

        flow.Release();
    }

    /// <summary>The parts of a TCP segment in an IPv4 packet without options or fragments, or IPv6 with TCP next.</summary>
    private readonly struct TcpSegment
    {
        public readonly int IpHeaderLength;
        public readonly int TcpHeaderLength;
        public readonly int PayloadLength;
        public readonly uint Sequence;
        public readonly byte Flags;

        private TcpSegment(int ipHeaderLength, int tcpHeaderLength, int payloadLength, uint sequence, byte flags)
        {
            IpHeaderLength = ipHeaderLength;
            TcpHeaderLength = tcpHeaderLength;
            PayloadLength = payloadLength;
            Sequence = sequence;
            Flags = flags;
        }

        public int HeadersLength => IpHeaderLength + TcpHeaderLength;

        public static bool TryParse(ReadOnlySpan<byte> packet, out TcpSegment segment)
        {
            segment = default;
            int ipHeader;
            int total;
            if (packet.Length >= 20 && packet[0] == 0x45)
            {
                // No options, not a fragment (MF clear, offset 0), TCP.
                ipHeader = 20;
                total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0 || packet[9] != ProtocolTcp)
                {
                    return false;
                }
            }
            else if (packet.Length >= 40 && packet[0] >> 4 == 6 && packet[6] == ProtocolTcp)
            {
                ipHeader = 40;
                total = 40 + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
            }
            else
            {
                return false;
            }

            if (total > packet.Length || total < ipHeader + 20)
            {
                return false;
            }

            var tcpHeader = (packet[ipHeader + 12] >> 4) * 4;
            if (tcpHeader < 20 || ipHeader + tcpHeader > total)
            {
                return false;
            }

            segment = new TcpSegment(ipHeader, tcpHeader, total - ipHeader - tcpHeader, BinaryPrimitives.ReadUInt32BigEndian(packet[(ipHeader + 4)..]), packet[ipHeader + 13]);
            return true;
        }
    }

    /// <summary>One flow's run of segments: the first one's headers, then every payload, behind room for the virtio header.</summary>
    private sealed class HeldFlow
    {
        private readonly byte[] _frame = new byte[VirtioNetHeader.Size + MaxPacket];
        private int _length;
        private int _ipHeaderLength;
        private int _headersLength;
        private int _segmentSize;
        private uint _nextSequence;

        // A segment shorter than the first, or with PSH, ends the run: the kernel could not cut more after it.
        private bool _ended;

        public bool IsHeld => Segments > 0;

        public int Segments { get; private set; }

        public int PacketBytes { get; private set; }

        public ReadOnlySpan<byte> Packet => _frame.AsSpan(VirtioNetHeader.Size, _length);

        public void Start(ReadOnlySpan<byte> packet, in TcpSegment segment)
        {
            var length = segment.HeadersLength + segment.PayloadLength;
            packet[..length].CopyTo(_frame.AsSpan(VirtioNetHeader.Size));
            _length = length;
            _ipHeaderLength = segment.IpHeaderLength;
            _headersLength = segment.HeadersLength;
            _segmentSize = segment.PayloadLength;
            _nextSequence = segment.Sequence + (uint)segment.PayloadLength;
            _ended = false;
            Segments = 1;
            PacketBytes = length;
        }

        public void Release() => Segments = 0;

        public bool IsSameFlow(ReadOnlySpan<byte> packet, in TcpSegment segment)
        {
            if (segment.IpHeaderLength != _ipHeaderLength)
            {
                return false;
            }

            // Addresses (IPv4 12..20, IPv6 8..40), then the ports.
            var held = Packet;
            var addresses = _ipHeaderLength == 20 ? 12..20 : 8..40;
            return held[addresses].SequenceEqual(packet[addresses])
                && held.Slice(_ipHeaderLength, 4).SequenceEqual(packet.Slice(_ipHeaderLength, 4));
        }

        public bool TryAppend(ReadOnlySpan<byte> packet, in TcpSegment segment)
        {
            if (_ended || segment.PayloadLength == 0 || segment.PayloadLength > _segmentSize
                || segment.HeadersLength != _headersLength || segment.Sequence != _nextSequence
                || _length + segment.PayloadLength > MaxPacket
                || (segment.Flags & ~FlagPsh) != FlagAck || !SameHeaders(packet))
            {
                return false;
            }

            packet.Slice(_headersLength, segment.PayloadLength).CopyTo(_frame.AsSpan(VirtioNetHeader.Size + _length));
            _length += segment.PayloadLength;
            _nextSequence += (uint)segment.PayloadLength;
            Segments++;
            PacketBytes += segment.HeadersLength + segment.PayloadLength;
            if ((segment.Flags & FlagPsh) != 0)
            {
                _frame[VirtioNetHeader.Size + _ipHeaderLength + 13] |= FlagPsh;
                _ended = true;
            }

            if (segment.PayloadLength < _segmentSize)
            {
                _ended = true;
            }

            return true;
        }

        /// <summary>Lengths, checksums and the virtio header of the joined packet; the frame to write.</summary>
        public ReadOnlySpan<byte> FinishSuperPacket()
        {
            var packet = _frame.AsSpan(VirtioNetHeader.Size, _length);
            var isIPv4 = _ipHeaderLength == 20;
            if (isIPv4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)_length);
                InternetChecksum.WriteIPv4HeaderChecksum(packet[..20]);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(_length - 40));
            }

            // A partial checksum, as the kernel's own TCP leaves for offload: the pseudo-header's folded sum.
            var pseudo = InternetChecksum.PseudoHeaderSum(packet, ProtocolTcp, _length - _ipHeaderLength);
            BinaryPrimitives.WriteUInt16BigEndian(packet[(_ipHeaderLength + TcpChecksumOffset)..], (ushort)~InternetChecksum.Finish(pseudo));

            var header = new VirtioNetHeader
            {
                Flags = VirtioNetHeader.NeedsChecksum,
                GsoType = isIPv4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6,
                HeaderLength = (ushort)_headersLength,
                GsoSize = (ushort)_segmentSize,
                ChecksumStart = (ushort)_ipHeaderLength,
                ChecksumOffset = TcpChecksumOffset,
            };
            MemoryMarshal.Write(_frame, in header);
            return _frame.AsSpan(0, VirtioNetHeader.Size + _length);
        }

        // IP fields a receiver's segments must share (IPv4: TOS, flags and TTL; IPv6: class, flow label, hop
        // limit), then acknowledgement, data offset, flags but PSH, window, and every option byte.
        private bool SameHeaders(ReadOnlySpan<byte> packet)
        {
            var held = Packet;
            var ipSame = _ipHeaderLength == 20
                ? held[1] == packet[1] && held[6] == packet[6] && held[8] == packet[8]
                : held[..4].SequenceEqual(packet[..4]) && held[7] == packet[7];
            if (!ipSame)
            {
                return false;
            }

            var tcp = _ipHeaderLength;
            return held.Slice(tcp + 8, 5).SequenceEqual(packet.Slice(tcp + 8, 5))
                && (held[tcp + 13] & ~FlagPsh) == (packet[tcp + 13] & ~FlagPsh)
                && held.Slice(tcp + 14, 2).SequenceEqual(packet.Slice(tcp + 14, 2))
                && held[(tcp + 20).._headersLength].SequenceEqual(packet[(tcp + 20).._headersLength]);
        }
    }
}
