using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class AllocationTests
{
    [Fact]
    public void Parsing_and_the_header_stage_allocate_nothing()
    {
        var batch = new PacketBatch(4, 256);
        var buffer = new byte[128];
        var dcid = Convert.FromHexString("000102030405060708090a0b");
        batch.Add(buffer.AsSpan(0, QuicPacketWriter.WriteShortHeader(buffer, dcid, 40)), default);
        batch.Add(buffer.AsSpan(0, QuicPacketWriter.WriteLongHeader(buffer, QuicVersions.V2, QuicPacketType.Initial, dcid, dcid, 40)), default);
        batch.Add(buffer.AsSpan(0, 9), default);
        var stage = new QuicHeaderStage(static _ => { }, 12);
        Assert.Equal(0, SteadyStateAllocation.Measure(() => RunBoth(batch, stage)));
    }

    private static void RunBoth(PacketBatch batch, QuicHeaderStage stage)
    {
        for (var i = 0; i < 10_000; i++)
        {
            for (var slot = 0; slot < batch.Count; slot++)
            {
                batch.ResetSlot(slot);
                QuicHeaderParser.TryParse(batch.Payload(slot), 12, out _);
            }

            stage.Invoke(batch);
        }
    }
}
