using System.Buffers.Binary;
using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.Tun.OffloadPackets;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>
/// Joining a peer's TCP segments before the kernel takes them: runs of one flow become one super-packet that the
/// kernel's segmentation would cut back into exactly those segments; anything that could not be cut back that way
/// goes out on its own, and no flow's packets are reordered.
/// </summary>
public class TcpSegmentCoalescerTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void In_order_segments_of_one_flow_become_one_super_packet_that_cuts_back_into_them(bool ipv6)
    {
        var segments = Segments(ipv6, sequence: 0xFFFF_F000, count: 5, size: 1200, lastSize: 700, lastFlags: Ack | Psh);
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);

        foreach (var segment in segments)
        {
            coalescer.Add(segment);
        }

        Assert.Empty(output.Written);
        coalescer.Flush();

        var (frame, count, bytes) = Assert.Single(output.SuperPackets);
        Assert.Empty(output.Packets);
        Assert.Equal(5, count);
        Assert.Equal(segments.Sum(s => s.Length), bytes);

        var header = MemoryMarshal.Read<VirtioNetHeader>(frame);
        var ipHeader = ipv6 ? 40 : 20;
        Assert.Equal(VirtioNetHeader.NeedsChecksum, header.Flags);
        Assert.Equal(ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, header.GsoType);
        Assert.Equal(1200, header.GsoSize);
        Assert.Equal(ipHeader, header.ChecksumStart);
        Assert.Equal(16, header.ChecksumOffset);
        Assert.Equal(ipHeader + 32, header.HeaderLength);
        var packet = frame.AsSpan(VirtioNetHeader.Size);
        Assert.Equal(ipv6 ? packet.Length - 40 : packet.Length, BinaryPrimitives.ReadUInt16BigEndian(packet[(ipv6 ? 4 : 2)..]));
        Assert.True(ipv6 || Checksum.Internet(packet[..20]) == 0, "IPv4 header checksum");

        // What the kernel's segmentation makes of it is what came in, byte for byte.
        Assert.Equal(segments, TunFrameSplitterTests.Split(frame));
    }

    [Fact]
    public void A_single_segment_goes_out_as_it_came()
    {
        var segment = Tcp(ipv6: false, 1, Payload(1000));
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);

        coalescer.Add(segment);
        coalescer.Flush();

        Assert.Equal(segment, Assert.Single(output.Packets));
        Assert.Empty(output.SuperPackets);
    }

    [Fact]
    public void A_gap_in_the_sequence_ends_the_run_and_the_order_is_kept()
    {
        var first = Tcp(ipv6: false, 1000, Payload(1000));
        var second = Tcp(ipv6: false, 2000, Payload(1000));
        var afterGap = Tcp(ipv6: false, 5000, Payload(1000));
        var next = Tcp(ipv6: false, 6000, Payload(1000));

        var written = Coalesce(first, second, afterGap, next);

        Assert.Equal([[1000, 2000], [5000, 6000]], written.Select(w => w.Select(p => Sequence(p)).ToArray()));
    }

    [Fact]
    public void A_pure_ack_or_a_FIN_of_a_held_flow_goes_out_after_the_flows_data()
    {
        var data1 = Tcp(ipv6: false, 1000, Payload(1000));
        var data2 = Tcp(ipv6: false, 2000, Payload(1000));
        var pureAck = Tcp(ipv6: false, 3000, []);
        var fin = Tcp(ipv6: false, 3000, Payload(10), Ack | Fin);

        var written = Coalesce(data1, data2, pureAck, fin);

        Assert.Equal(3, written.Count);
        Assert.Equal([1000, 2000], written[0].Select(p => Sequence(p)));
        Assert.Equal(pureAck, Assert.Single(written[1]));
        Assert.Equal(fin, Assert.Single(written[2]));
    }

    [Fact]
    public void Segments_that_differ_in_ack_window_options_or_TOS_do_not_join()
    {
        var first = Tcp(ipv6: false, 1000, Payload(1000));
        var otherAck = Tcp(ipv6: false, 2000, Payload(1000), ack: 2000);
        var otherTos = Tcp(ipv6: false, 3000, Payload(1000), ack: 2000, tos: 0x03);
        var window = Tcp(ipv6: false, 4000, Payload(1000), ack: 2000, tos: 0x03);
        BinaryPrimitives.WriteUInt16BigEndian(window.AsSpan(20 + 14), 999);
        FinishChecksums(window);
        var option = Tcp(ipv6: false, 5000, Payload(1000), ack: 2000, tos: 0x03);
        option[20 + 27] ^= 1; // another timestamp
        FinishChecksums(option);

        var written = Coalesce(first, otherAck, otherTos, window, option);

        Assert.Equal(5, written.Count);
        Assert.All(written, w => Assert.Single(w));
    }

    [Fact]
    public void A_larger_segment_after_a_short_one_or_anything_after_PSH_starts_a_new_run()
    {
        var full = Tcp(ipv6: false, 1000, Payload(1000));
        var shortOne = Tcp(ipv6: false, 2000, Payload(500));
        var afterShort = Tcp(ipv6: false, 2500, Payload(1000));
        var pushed = Tcp(ipv6: false, 3500, Payload(1000), Ack | Psh);
        var afterPush = Tcp(ipv6: false, 4500, Payload(1000));
        var tail = Tcp(ipv6: false, 5500, Payload(1000));

        var written = Coalesce(full, shortOne, afterShort, pushed, afterPush, tail);

        Assert.Equal([[1000, 2000], [2500, 3500], [4500, 5500]], written.Select(w => w.Select(p => Sequence(p)).ToArray()));
    }

    [Fact]
    public void Interleaved_flows_are_joined_each_on_its_own()
    {
        var packets = new List<byte[]>();
        for (var i = 0; i < 4; i++)
        {
            packets.Add(Tcp(ipv6: false, (uint)(1000 + i * 1000), Payload(1000), sourcePort: 40000));
            packets.Add(Tcp(ipv6: false, (uint)(9000 + i * 1000), Payload(1000), sourcePort: 40001));
        }

        var written = Coalesce([.. packets]);

        Assert.Equal(2, written.Count);
        Assert.Equal([1000, 2000, 3000, 4000], written[0].Select(p => Sequence(p)));
        Assert.Equal([9000, 10000, 11000, 12000], written[1].Select(p => Sequence(p)));
    }

    [Fact]
    public void A_run_stops_below_64_KiB_and_the_rest_starts_another()
    {
        var segments = Segments(ipv6: false, sequence: 1, count: 60, size: 1400, lastSize: 1400, lastFlags: Ack);
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);

        foreach (var segment in segments)
        {
            coalescer.Add(segment);
        }

        coalescer.Flush();

        Assert.Equal(2, output.SuperPackets.Count);
        Assert.All(output.SuperPackets, s => Assert.True(s.Frame.Length - VirtioNetHeader.Size <= 65535));
        Assert.Equal(60, output.SuperPackets.Sum(s => s.Segments));
        Assert.Equal(segments, output.SuperPackets.SelectMany(s => TunFrameSplitterTests.Split(s.Frame)).ToList());
    }

    [Fact]
    public void More_flows_than_it_holds_send_the_oldest_out_and_nothing_is_lost()
    {
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);
        var flows = TcpSegmentCoalescer.MaxFlows + 3;
        for (var round = 0; round < 2; round++)
        {
            for (var flow = 0; flow < flows; flow++)
            {
                coalescer.Add(Tcp(ipv6: false, (uint)(1 + round * 1000), Payload(1000), sourcePort: (ushort)(40000 + flow)));
            }
        }

        coalescer.Flush();

        Assert.Equal(2 * flows, output.Packets.Count + output.SuperPackets.Sum(s => s.Segments));
    }

    [Fact]
    public void Packets_other_than_TCP_data_go_out_at_once()
    {
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);
        var udp = UdpDatagram(ipv6: false, Payload(100));
        var notIp = new byte[] { 1, 2, 3 };
        var withOptions = Tcp(ipv6: false, 1, Payload(100));
        withOptions[0] = 0x46; // an IPv4 header that claims options

        coalescer.Add(udp);
        coalescer.Add(notIp);
        coalescer.Add(withOptions);

        Assert.Equal([udp, notIp, withOptions], output.Packets);
    }

    private static List<byte[]> Segments(bool ipv6, uint sequence, int count, int size, int lastSize, byte lastFlags)
    {
        var segments = new List<byte[]>();
        for (var i = 0; i < count; i++)
        {
            var last = i == count - 1;
            segments.Add(Tcp(ipv6, sequence, Payload(last ? lastSize : size, seed: i), last ? lastFlags : Ack, identification: (ushort)(100 + i)));
            sequence += (uint)(last ? lastSize : size);
        }

        return segments;
    }

    /// <summary>Adds the packets in one batch, flushes, and returns what was written, each super-packet cut back.</summary>
    private static List<List<byte[]>> Coalesce(params byte[][] packets)
    {
        var output = new RecordingOutput();
        var coalescer = new TcpSegmentCoalescer(output);
        foreach (var packet in packets)
        {
            coalescer.Add(packet);
        }

        coalescer.Flush();
        return output.Written.Select(w => w.Segments == 0 ? [w.Frame] : TunFrameSplitterTests.Split(w.Frame)).ToList();
    }

    private sealed class RecordingOutput : ITunFrameOutput
    {
        public List<(byte[] Frame, int Segments, int Bytes)> Written { get; } = [];

        public List<byte[]> Packets => Written.Where(w => w.Segments == 0).Select(w => w.Frame).ToList();

        public List<(byte[] Frame, int Segments, int Bytes)> SuperPackets => Written.Where(w => w.Segments > 0).ToList();

        public void WritePacket(ReadOnlySpan<byte> packet) => Written.Add((packet.ToArray(), 0, packet.Length));

        public void WriteSuperPacket(ReadOnlySpan<byte> frame, int segments, int packetBytes) => Written.Add((frame.ToArray(), segments, packetBytes));
    }
}
