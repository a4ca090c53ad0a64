using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Dataplane.Wire;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Quic;

public class QuicHeaderStageTests
{
    private static readonly byte[] Dcid12 = Convert.FromHexString("000102030405060708090a0b");

    [Fact]
    public void Parses_pending_slots_drops_malformed_ones_and_leaves_decided_ones_alone()
    {
        var batch = new PacketBatch(8, 256);
        var shortSlot = batch.Add(Short(Dcid12), default);
        var longSlot = batch.Add(Long(QuicVersions.V1, QuicPacketType.Handshake, [9, 9], [8]), default);
        var truncatedSlot = batch.Add(Short(Dcid12)[..5], default);
        var emptySlot = batch.Add([], default);
        var cidTooLongSlot = batch.Add([0xc0, 0, 0, 0, 1, 21, .. new byte[30]], default);
        var oversizeSlot = batch.Add(Short(Dcid12), default);
        batch.Drop(oversizeSlot, DropReason.Oversize);
        var localSlot = batch.Add(Short(Dcid12), default);
        batch.MarkLocal(localSlot);
        var calls = 0;
        var stage = new QuicHeaderStage(b => { calls++; Assert.Same(batch, b); }, shortDcidLength: 12);

        stage.Invoke(batch);

        Assert.Equal(1, calls);
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[shortSlot]);
        Assert.Equal(QuicPacketType.OneRtt, batch.Headers[shortSlot].Type);
        Assert.Equal(new ConnectionId(Dcid12), batch.Headers[shortSlot].Dcid);
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[longSlot]);
        Assert.Equal(QuicPacketType.Handshake, batch.Headers[longSlot].Type);
        Assert.Equal(new ConnectionId([9, 9]), batch.Headers[longSlot].Dcid);
        Assert.Equal(new ConnectionId([8]), batch.Headers[longSlot].Scid);
        AssertDropped(batch, truncatedSlot, DropReason.Truncated);
        AssertDropped(batch, emptySlot, DropReason.Truncated);
        AssertDropped(batch, cidTooLongSlot, DropReason.CidTooLong);
        AssertDropped(batch, oversizeSlot, DropReason.Oversize);
        Assert.Equal(default, batch.Headers[oversizeSlot].Dcid);
        Assert.Equal(PacketVerdict.Local, batch.Verdicts[localSlot]);
        Assert.Equal(default, batch.Headers[localSlot].Dcid);
    }

    [Fact]
    public void Slots_past_count_are_not_touched()
    {
        var batch = new PacketBatch(4, 128);
        batch.Add(Short(Dcid12), default);

        new QuicHeaderStage(_ => { }, 12).Invoke(batch);

        // Slot 1 holds no datagram (length 0); parsing it would have dropped it as truncated.
        Assert.Equal(PacketVerdict.Pending, batch.Verdicts[1]);
        Assert.Equal(DropReason.None, batch.DropReasons[1]);
    }

    [Fact]
    public void An_empty_batch_still_calls_next_once()
    {
        var calls = 0;
        new QuicHeaderStage(_ => calls++, 12).Invoke(new PacketBatch(1, 64));

        Assert.Equal(1, calls);
    }

    [Fact]
    public void Builder_extension_places_the_stage_before_the_terminal_with_its_dcid_length()
    {
        var batch = new PacketBatch(2, 128);
        var slot = batch.Add(Short([1, 2, 3, 4]), default);
        QuicHeader seen = default;
        var pipeline = new PipelineBuilder()
            .UseQuicHeaderParsing(shortDcidLength: 4)
            .Run(b => seen = b.Headers[slot])
            .Build();

        pipeline(batch);

        Assert.Equal(QuicPacketType.OneRtt, seen.Type);
        Assert.Equal(new ConnectionId([1, 2, 3, 4]), seen.Dcid);
    }

    [Fact]
    public void Builder_extension_defaults_to_12_byte_dcids()
    {
        var batch = new PacketBatch(2, 128);
        var slot = batch.Add(Short(Dcid12), default);

        new PipelineBuilder().UseQuicHeaderParsing().Build()(batch);

        Assert.Equal(new ConnectionId(Dcid12), batch.Headers[slot].Dcid);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(21)]
    public void Dcid_length_outside_0_to_20_fails_when_the_pipeline_is_built(int shortDcidLength)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PipelineBuilder().UseQuicHeaderParsing(shortDcidLength));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuicHeaderStage(_ => { }, shortDcidLength));
    }

    private static void AssertDropped(PacketBatch batch, int slot, DropReason reason)
    {
        Assert.Equal(PacketVerdict.Drop, batch.Verdicts[slot]);
        Assert.Equal(reason, batch.DropReasons[slot]);
    }

    private static byte[] Short(byte[] dcid)
    {
        var buffer = new byte[64];
        return buffer[..QuicPacketWriter.WriteShortHeader(buffer, dcid, payloadLength: 20)];
    }

    private static byte[] Long(uint version, QuicPacketType type, byte[] dcid, byte[] scid)
    {
        var buffer = new byte[128];
        return buffer[..QuicPacketWriter.WriteLongHeader(buffer, version, type, dcid, scid, payloadLength: 20)];
    }
}
