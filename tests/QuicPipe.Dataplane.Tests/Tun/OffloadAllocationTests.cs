using QuicPipe.Dataplane.Tun;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.Tun.OffloadPackets;

namespace QuicPipe.Dataplane.Tests.Tun;

/// <summary>The offload paths run per packet: cutting a super-packet and joining segments allocate nothing once warm.</summary>
public class OffloadAllocationTests
{
    [Fact]
    public void Cutting_a_TCP_super_packet_allocates_nothing()
    {
        var frame = Frame(Header(VirtioNetHeader.GsoTcpV4, 1360, 20, 16), Tcp(ipv6: false, 1, Payload(60000)));
        var splitter = new TunFrameSplitter();
        var slot = new byte[2048];

        var allocated = SteadyStateAllocation.Measure(() =>
        {
            frame.CopyTo(splitter.Buffer);
            splitter.Load(frame.Length);
            while (splitter.HasPending)
            {
                splitter.WriteNext(slot);
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Joining_segments_of_several_flows_allocates_nothing()
    {
        var segments = new List<byte[]>();
        for (var i = 0; i < 40; i++)
        {
            segments.Add(Tcp(ipv6: false, (uint)(1 + (i / 4) * 1360), Payload(1360), sourcePort: (ushort)(40000 + (i % 4))));
        }

        var coalescer = new TcpSegmentCoalescer(new DiscardingOutput());

        var allocated = SteadyStateAllocation.Measure(() =>
        {
            foreach (var segment in segments)
            {
                coalescer.Add(segment);
            }

            coalescer.Flush();
        });

        Assert.Equal(0, allocated);
    }

    private sealed class DiscardingOutput : ITunFrameOutput
    {
        public void WritePacket(ReadOnlySpan<byte> packet)
        {
        }

        public void WriteSuperPacket(ReadOnlySpan<byte> frame, int segments, int packetBytes)
        {
        }
    }
}
