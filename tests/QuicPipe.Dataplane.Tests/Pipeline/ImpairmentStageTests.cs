using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Lab;
using Xunit;

namespace QuicPipe.Dataplane.Tests.Pipeline;

public class ImpairmentStageTests
{
    private const int Datagrams = 100_000;

    [Fact]
    public void Drops_the_configured_fraction_of_100k_datagrams_and_counts_them_as_impaired()
    {
        var link = new SequencedLink(new ImpairmentOptions { DropFraction = 0.05, ReorderFraction = 0.05, Seed = 1 });

        SendAll(link, PacketBatch.DefaultCapacity);

        // 5% of 100k is 5000 with a standard deviation of about 69: ±500 is seven of them.
        Assert.InRange(link.Dropped.Count, 4_500, 5_500);
        Assert.Equal(0, link.Unexpected);
    }

    [Fact]
    public void Every_datagram_is_delivered_or_dropped_exactly_once_and_held_ones_come_out_one_batch_late()
    {
        // Half-full batches leave room for everything held, so each held datagram goes out with the very next batch.
        var link = new SequencedLink(new ImpairmentOptions { DropFraction = 0.05, ReorderFraction = 0.05, Seed = 2 });
        const int PerBatch = PacketBatch.DefaultCapacity / 2;

        SendAll(link, PerBatch);
        link.Idle();

        var delivered = link.Delivered.Select(d => d.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, Datagrams), delivered.Concat(link.Dropped).Order());
        var late = link.Delivered.Where(d => d.Sequence / PerBatch != d.Batch).ToList();
        Assert.All(late, d => Assert.Equal(d.Sequence / PerBatch + 1, d.Batch));
        Assert.InRange(late.Count, 4_500, 5_500);
        Assert.Equal(late.Count, CountOvertaken(delivered));
        Assert.Equal(0, link.Unexpected);
    }

    [Fact]
    public void With_full_batches_what_does_not_fit_stays_held_and_an_idle_batch_still_releases_it()
    {
        // Full batches have room only for as many released datagrams as were held from them, so some wait longer; and
        // with a quarter held, some batches reach the limit and pass the rest in order. None may be lost or repeated,
        // and reordering must go on to the end rather than stall with a full store.
        var link = new SequencedLink(new ImpairmentOptions { ReorderFraction = 0.25, MaxHeldDatagrams = 16, Seed = 3 });

        SendAll(link, PacketBatch.DefaultCapacity);
        for (var i = 0; i < 4 && link.Delivered.Count < Datagrams; i++)
        {
            link.Idle();
        }

        Assert.Equal(Enumerable.Range(0, Datagrams), link.Delivered.Select(d => d.Sequence).Order());
        Assert.Empty(link.Dropped);
        var delivered = link.Delivered.Select(d => d.Sequence).ToList();
        Assert.InRange(CountOvertaken(delivered[(Datagrams / 2)..]), 5_000, 12_500);
    }

    [Fact]
    public void The_same_seed_replays_the_same_choices_and_another_seed_does_not()
    {
        static List<int> Run(int seed)
        {
            var link = new SequencedLink(new ImpairmentOptions { DropFraction = 0.1, ReorderFraction = 0.1, Seed = seed });
            for (var i = 0; i < 100; i++)
            {
                link.SendBatch(32);
            }

            link.Idle();
            return [.. link.Delivered.Select(d => d.Sequence)];
        }

        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void Datagrams_an_earlier_stage_decided_pass_untouched()
    {
        var batch = new PacketBatch(4, 64);
        for (var i = 0; i < 3; i++)
        {
            batch.Add([(byte)i], default);
        }

        batch.Drop(0, DropReason.UnknownCid);
        batch.MarkLocal(1);
        batch.Forward(2, default);
        var pipeline = new PipelineBuilder().UseImpairment(new ImpairmentOptions { DropFraction = 0.5, ReorderFraction = 0.5 }).Build();

        pipeline(batch);

        Assert.Equal(3, batch.Count);
        Assert.Equal([PacketVerdict.Drop, PacketVerdict.Local, PacketVerdict.Forward], batch.Verdicts[..3].ToArray());
        Assert.Equal(DropReason.UnknownCid, batch.DropReasons[0]);
        Assert.Equal([0, 1, 2], Enumerable.Range(0, 3).Select(i => (int)batch.Payload(i)[0]));
    }

    [Fact]
    public void The_steady_state_allocates_nothing()
    {
        var batch = new PacketBatch(PacketBatch.DefaultCapacity, 256);
        var stage = new ImpairmentStage(static _ => { }, new ImpairmentOptions { DropFraction = 0.05, ReorderFraction = 0.1 });
        Assert.Equal(0, SteadyStateAllocation.Measure(() => RunBatches(batch, stage)));
        Assert.True(stage.Held > 0 && stage.Released > 0 && stage.Dropped > 0, "the stage must have held, released and dropped");

        static void RunBatches(PacketBatch batch, ImpairmentStage stage)
        {
            ReadOnlySpan<byte> datagram = stackalloc byte[100];
            for (var i = 0; i < 1_000; i++)
            {
                batch.Clear();
                for (var slot = 0; slot < 32; slot++)
                {
                    batch.Add(datagram, default);
                }

                stage.Invoke(batch);
            }
        }
    }

    [Theory]
    [InlineData(-0.1, 0)]
    [InlineData(0, 1.1)]
    [InlineData(0.6, 0.5)]
    [InlineData(double.NaN, 0)]
    public void Fractions_outside_0_to_1_or_summing_past_1_are_refused_when_the_stage_is_added(double drop, double reorder)
    {
        var options = new ImpairmentOptions { DropFraction = drop, ReorderFraction = reorder };

        Assert.Throws<ArgumentException>(() => new PipelineBuilder().UseImpairment(options));
    }

    private static void SendAll(SequencedLink link, int perBatch)
    {
        while (link.Sent < Datagrams)
        {
            link.SendBatch(Math.Min(perBatch, Datagrams - link.Sent));
        }
    }

    /// <summary>Datagrams delivered after a higher sequence number: each one was overtaken.</summary>
    private static int CountOvertaken(List<int> delivered)
    {
        var overtaken = 0;
        var highest = -1;
        foreach (var sequence in delivered)
        {
            if (sequence < highest)
            {
                overtaken++;
            }

            highest = Math.Max(highest, sequence);
        }

        return overtaken;
    }
}
