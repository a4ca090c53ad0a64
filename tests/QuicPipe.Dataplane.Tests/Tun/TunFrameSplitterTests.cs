using System.Buffers.Binary;
using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.Tun.OffloadPackets;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>
/// Cutting what an offloading TUN device hands over: super-packets become the segments a sender without offloads
/// would have sent (headers, lengths, sequence numbers, flags, checksums), partial checksums get finished, and
/// frames that cannot be followed are refused.
/// </summary>
public class TunFrameSplitterTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_TCP_super_packet_becomes_segments_a_sender_without_offload_would_send(bool ipv6)
    {
        var payload = Payload(3500);
        var super = Tcp(ipv6, sequence: 0xFFFF_FC00, payload, Ack | Psh | Fin, identification: 100);
        super[(ipv6 ? 40 : 20) + 16] ^= 0x5A; // the kernel leaves only a partial checksum here
        var ipHeader = ipv6 ? 40 : 20;

        var segments = Split(Frame(Header(ipv6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, 1000, ipHeader, 16), super));

        Assert.Equal(4, segments.Count);
        Assert.Equal(payload, segments.SelectMany(s => TcpPayload(s).ToArray()).ToArray());
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            var last = i == segments.Count - 1;
            Assert.Equal(ipHeader + 32 + (last ? 500 : 1000), segment.Length);
            Assert.Equal(unchecked(0xFFFF_FC00 + (uint)(i * 1000)), Sequence(segment));
            Assert.Equal(last ? Ack | Psh | Fin : Ack, Flags(segment));
            Assert.True(Checksum.TransportValid(segment), $"segment {i}: TCP checksum");
            if (ipv6)
            {
                Assert.Equal(segment.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(4)));
            }
            else
            {
                Assert.Equal(segment.Length, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(2)));
                Assert.Equal(100 + i, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(4)));
                Assert.Equal(0, Checksum.Internet(segment.AsSpan(0, 20)));
            }

            // Everything else in the headers is the super-packet's: addresses, ports, ack, window, options.
            Assert.Equal(super.AsSpan(ipHeader + 8, 4).ToArray(), segment.AsSpan(ipHeader + 8, 4).ToArray());
            Assert.Equal(super.AsSpan(ipHeader + 14, 2).ToArray(), segment.AsSpan(ipHeader + 14, 2).ToArray());
            Assert.Equal(super.AsSpan(ipHeader + 20, 12).ToArray(), segment.AsSpan(ipHeader + 20, 12).ToArray());
        }
    }

    [Fact]
    public void With_the_ECN_bit_only_the_first_segment_keeps_CWR()
    {
        var super = Tcp(ipv6: false, 1, Payload(2500), Ack | Cwr);

        var segments = Split(Frame(Header(VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, 1000, 20, 16), super));

        Assert.Equal([Ack | Cwr, Ack, Ack], segments.Select(s => (int)Flags(s)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_UDP_super_packet_becomes_datagrams_with_their_own_lengths_and_checksums(bool ipv6)
    {
        var payload = Payload(2600);
        var super = UdpDatagram(ipv6, payload, identification: 9);
        var ipHeader = ipv6 ? 40 : 20;

        var datagrams = Split(Frame(Header(VirtioNetHeader.GsoUdpL4, 1200, ipHeader, 6), super));

        Assert.Equal([1200, 1200, 200], datagrams.Select(d => d.Length - ipHeader - 8));
        Assert.Equal(payload, datagrams.SelectMany(d => d.AsSpan(ipHeader + 8).ToArray()).ToArray());
        foreach (var datagram in datagrams)
        {
            Assert.Equal(datagram.Length - ipHeader, BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(ipHeader + 4)));
            Assert.True(Checksum.TransportValid(datagram));
        }
    }

    [Fact]
    public void A_single_packet_with_a_partial_checksum_gets_it_finished()
    {
        var packet = UdpDatagram(ipv6: false, Payload(300));
        var expected = packet.ToArray();

        // What the kernel leaves: the pseudo-header's folded sum, not complemented.
        var pseudo = (ushort)~Checksum.Internet([10, 0, 0, 1, 10, 0, 0, 2, 0, 17, (byte)(308 >> 8), unchecked((byte)308)]);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(26), pseudo);

        var segments = Split(Frame(Header(VirtioNetHeader.GsoNone, 0, 20, 6), packet));

        Assert.Equal(expected, Assert.Single(segments));
    }

    [Fact]
    public void A_plain_packet_passes_unchanged()
    {
        var packet = Tcp(ipv6: true, 5, Payload(100));

        var segments = Split(Frame(default, packet));

        Assert.Equal(packet, Assert.Single(segments));
    }

    [Fact]
    public void Frames_that_cannot_be_followed_are_refused()
    {
        var splitter = new TunFrameSplitter();
        var tcp = Tcp(ipv6: false, 1, Payload(3000));

        Assert.False(Load(splitter, new byte[VirtioNetHeader.Size]));
        Assert.False(Load(splitter, Frame(Header(VirtioNetHeader.GsoTcpV4, 0, 20, 16), tcp)));       // no segment size
        Assert.False(Load(splitter, Frame(Header(3, 1000, 20, 16), tcp)));                           // UFO: never enabled
        Assert.False(Load(splitter, Frame(Header(VirtioNetHeader.GsoUdpL4, 1000, 20, 6), tcp)));    // UDP type, TCP inside
        Assert.False(Load(splitter, Frame(Header(VirtioNetHeader.GsoTcpV4, 1000, 24, 16), tcp)));   // start is not the header's end
        Assert.False(Load(splitter, Frame(Header(VirtioNetHeader.GsoTcpV4, 1000, 20, 16), tcp.AsSpan(0, 40))));  // headers only
        Assert.False(Load(splitter, Frame(Header(VirtioNetHeader.GsoNone, 0, 20, 6000), tcp)));    // checksum field past the end
        Assert.False(splitter.HasPending);
    }

    [Fact]
    public void A_segment_larger_than_the_slot_abandons_the_frame()
    {
        var splitter = new TunFrameSplitter();
        Assert.True(Load(splitter, Frame(Header(VirtioNetHeader.GsoTcpV4, 1400, 20, 16), Tcp(ipv6: false, 1, Payload(5000)))));

        Assert.Equal(0, splitter.WriteNext(new byte[1000]));
        Assert.False(splitter.HasPending);
    }

    /// <summary>Loads <paramref name="frame"/> and cuts it all, as the TUN listener's reader does.</summary>
    internal static List<byte[]> Split(byte[] frame)
    {
        var splitter = new TunFrameSplitter();
        Assert.True(Load(splitter, frame));
        var packets = new List<byte[]>();
        var slot = new byte[2048];
        while (splitter.HasPending)
        {
            var length = splitter.WriteNext(slot);
            Assert.True(length > 0);
            packets.Add(slot[..length]);
        }

        return packets;
    }

    private static bool Load(TunFrameSplitter splitter, ReadOnlySpan<byte> frame)
    {
        frame.CopyTo(splitter.Buffer);
        return splitter.Load(frame.Length);
    }
}
