namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// Demultiplexes by destination CID: each parsed packet whose DCID the table routes to a local connection
/// (<see cref="CidRoute.Local"/>) is marked <see cref="PacketVerdict.Local"/> with that connection's slot, so the
/// terminal step resolves a slot instead of looking the CID up again. Misses and forwarding routes stay
/// <see cref="PacketVerdict.Pending"/>: what happens to them (start a connection, a hook, forwarding) is the
/// next stage's decision, not this one's.
/// </summary>
internal sealed class LocalCidLookupStage(PacketDelegate next, CidTable table)
{
    public void Invoke(PacketBatch batch)
    {
        // One clock read per batch, not per packet.
        var nowMs = table.NowMs;
        var verdicts = batch.Verdicts;
        var headers = batch.Headers;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] == PacketVerdict.Pending && table.TryGet(headers[i].Dcid, nowMs, out var route) && route.IsLocal)
            {
                batch.MarkLocal(i, route.LocalSlot);
            }
        }

        next(batch);
    }
}
