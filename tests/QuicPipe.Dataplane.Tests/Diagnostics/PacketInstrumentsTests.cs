using System.Diagnostics.Metrics;
using QuicPipe.Dataplane.Diagnostics;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Diagnostics;

/// <summary>A loop's counters, as a meter listener reads them from the instruments <see cref="PacketInstruments"/> adds.</summary>
public sealed class PacketInstrumentsTests
{
    [Fact]
    public void Every_counter_is_an_instrument_under_the_prefix_and_drops_carry_their_reason()
    {
        var counters = new DataplaneCounters
        {
            Received = 10,
            ReceivedBytes = 1000,
            Forwarded = 7,
            ForwardedBytes = 700,
            Local = 1,
            Batches = 3,
            GsoSends = 2,
            GsoSegments = 5,
            GroBuffers = 4,
        };
        counters.CountDrops(DropReason.UnknownCid, 2);
        counters.CountDrop(DropReason.Reflection);
        using var meter = new Meter("QuicPipe.Test.Packets");
        PacketInstruments.Add(meter, "quicpipe.test", "forwarded", () => counters);
        using var reader = new MeterReader(meter);

        Assert.Equal(10, reader.Read("quicpipe.test.received"));
        Assert.Equal(1000, reader.Read("quicpipe.test.received.bytes"));
        Assert.Equal(7, reader.Read("quicpipe.test.forwarded"));
        Assert.Equal(700, reader.Read("quicpipe.test.forwarded.bytes"));
        Assert.Equal(1, reader.Read("quicpipe.test.local"));
        Assert.Equal(3, reader.Read("quicpipe.test.batches"));
        Assert.Equal(2, reader.Read("quicpipe.test.gso.sends"));
        Assert.Equal(5, reader.Read("quicpipe.test.gso.segments"));
        Assert.Equal(4, reader.Read("quicpipe.test.gro.buffers"));
        Assert.Equal(2, reader.Read("quicpipe.test.dropped", "reason=unknown_cid"));
        Assert.Equal(1, reader.Read("quicpipe.test.dropped", "reason=reflection"));
        Assert.Equal(0, reader.Read("quicpipe.test.dropped", "reason=truncated"));
        Assert.Throws<KeyNotFoundException>(() => reader.Read("quicpipe.test.dropped", "reason=none"));

        // Observable: a later collection sees the counters as they are then.
        counters.Forwarded = 9;
        Assert.Equal(9, reader.Read("quicpipe.test.forwarded"));
    }

    [Fact]
    public void Nothing_to_read_yet_reads_as_zero()
    {
        using var meter = new Meter("QuicPipe.Test.Packets");
        PacketInstruments.Add(meter, "quicpipe.test", "sent", () => null);
        using var reader = new MeterReader(meter);

        Assert.Equal(0, reader.Read("quicpipe.test.sent"));
        Assert.Equal(0, reader.Read("quicpipe.test.dropped", "reason=no_route"));
    }
}
