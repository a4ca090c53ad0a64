namespace QuicPipe.Dataplane.Internal;

/// <summary>Counts what the pipeline decided for a batch, so every received datagram is accounted for exactly once.</summary>
internal static class VerdictTally
{
    public static void Count(PacketBatch batch, DataplaneCounters counters)
    {
        counters.Batches++;
        var verdicts = batch.Verdicts;
        var reasons = batch.DropReasons;
        for (var i = 0; i < batch.Count; i++)
        {
            switch (verdicts[i])
            {
                case PacketVerdict.Forward:
                    break; // counted by the socket when the kernel accepts it
                case PacketVerdict.Local or PacketVerdict.Consumed:
                    counters.Local++;
                    break;
                case PacketVerdict.Drop:
                    counters.CountDrop(reasons[i]);
                    break;
                default:
                    counters.CountDrop(DropReason.NoVerdict);
                    break;
            }
        }
    }

    /// <summary>A stage threw: whatever was not already sent is lost, and says so in the counters.</summary>
    public static void CountFailedBatch(PacketBatch batch, DataplaneCounters counters)
    {
        counters.Batches++;
        counters.CountDrops(DropReason.NoVerdict, batch.Count);
    }
}
