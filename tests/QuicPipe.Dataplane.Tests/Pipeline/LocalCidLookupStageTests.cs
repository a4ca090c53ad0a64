using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using QuicPipe.Lab;
using Xunit;
using static QuicPipe.Dataplane.Tests.CidTestData;

namespace QuicPipe.Dataplane.Tests.Pipeline;

public class LocalCidLookupStageTests
{
    [Fact]
    public void Local_routes_mark_their_packets_local_with_the_slot_and_everything_else_stays_as_it_was()
    {
        var table = new CidTable(16);
        table.Set(Cid(1), CidRoute.Local(7, ownerId: 1, long.MaxValue));
        table.Set(Cid(2), CidRoute.Local(0, ownerId: 2, long.MaxValue));
        table.Set(Cid(3), RouteFor(3));
        var batch = new PacketBatch(8, 256);
        var toSlot7 = AddShort(batch, Cid(1));
        var toSlot0 = AddShort(batch, Cid(2));
        var forwarding = AddShort(batch, Cid(3));
        var unknown = AddShort(batch, Cid(4));
        var dropped = AddShort(batch, Cid(1));
        batch.Drop(dropped, DropReason.Oversize);
        var calls = 0;

        new LocalCidLookupStage(b => { calls++; Assert.Same(batch, b); }, table).Invoke(batch);

        Assert.Equal(1, calls);
        Assert.Equal(PacketVerdict.Local, batch.Verdicts[toSlot7]);
        Assert.Equal(7, batch.LocalSlots[toSlot7]);
        Assert.Equal(PacketVerdict.Local, batch.Verdicts[toSlot0]);
        Assert.Equal(0, batch.LocalSlots[toSlot0]);

        // Misses and forwarding routes are the next stage's decision.
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[forwarding]);
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[unknown]);
        Assert.Equal(PacketVerdict.Drop, batch.Verdicts[dropped]);
    }

    [Fact]
    public void An_expired_local_route_is_a_miss()
    {
        var time = new ManualTimeProvider();
        var table = new CidTable(4, time);
        table.Set(Cid(1), CidRoute.Local(3, ownerId: 1, expiresAtMs: 10));
        var batch = new PacketBatch(2, 256);
        var slot = AddShort(batch, Cid(1));
        time.AdvanceMs(10);

        new LocalCidLookupStage(_ => { }, table).Invoke(batch);

        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[slot]);
    }

    [Fact]
    public void Builder_extension_runs_after_header_parsing_and_before_the_terminal()
    {
        var table = new CidTable(4);
        table.Set(Cid(5), CidRoute.Local(42, ownerId: 1, long.MaxValue));
        var batch = new PacketBatch(2, 256);
        var slot = batch.Add(Short(Cid(5)), default);
        (PacketVerdict Verdict, int Slot) seen = default;
        var pipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(12)
            .UseLocalCidLookup(table)
            .Run(b => seen = (b.Verdicts[slot], b.LocalSlots[slot]))
            .Build();

        pipeline(batch);

        Assert.Equal((PacketVerdict.Local, 42), seen);
    }

    [Fact]
    public void The_stage_allocates_nothing()
    {
        var table = new CidTable(1024);
        var batch = new PacketBatch(64, 256);
        for (var i = 0; i < 64; i++)
        {
            table.Set(Cid(i), CidRoute.Local(i, ownerId: 1, long.MaxValue));
            AddShort(batch, Cid(i % 2 == 0 ? i : i + 1000));
        }

        var stage = new LocalCidLookupStage(static _ => { }, table);
        Assert.Equal(0, SteadyStateAllocation.Measure(() => Run(batch, stage)));
        Assert.Equal(32, batch.Verdicts[..batch.Count].Count(PacketVerdict.Local));
    }

    private static void Run(PacketBatch batch, LocalCidLookupStage stage)
    {
        for (var round = 0; round < 1000; round++)
        {
            batch.Verdicts[..batch.Count].Fill(PacketVerdict.Pending);
            stage.Invoke(batch);
        }
    }

    /// <summary>Adds a short-header packet with its header already parsed, as the header stage would leave it.</summary>
    private static int AddShort(PacketBatch batch, ConnectionId dcid)
    {
        var slot = batch.Add(Short(dcid), default);
        Assert.Equal(DropReason.None, QuicHeaderParser.Parse(batch.Payload(slot), dcid.Length, out batch.Headers[slot]));
        return slot;
    }

    private static byte[] Short(ConnectionId dcid)
    {
        var buffer = new byte[64];
        return buffer[..QuicPacketWriter.WriteShortHeader(buffer, dcid.Span, payloadLength: 20)];
    }
}
