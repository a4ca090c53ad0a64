using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// The relay's decision: each parsed packet goes, unmodified, to the endpoint its destination CID is
/// routed to. Unknown (or expired) CIDs are dropped, and so is a packet whose route leads back to its
/// own sender: reflecting it would let anyone bounce traffic off the relay at themselves or loop it.
/// A forwarded packet whose route carries <see cref="RouteFlags.ReportUse"/> is reported to the sink, so
/// the registry learns which derived CIDs are in use; routes without the flag cost one bit test.
/// A local route (<see cref="CidRoute.Local"/>, a connection of this node) is never forwarded: its packet is
/// marked <see cref="PacketVerdict.Local"/> with the slot, as the local CID lookup stage would mark it.
/// </summary>
internal sealed class RelayForwardingStage(PacketDelegate next, CidTable table, IRouteUseSink? sink = null)
{
    public void Invoke(PacketBatch batch)
    {
        // One clock read per batch, not per packet.
        var nowMs = table.NowMs;
        var verdicts = batch.Verdicts;
        var headers = batch.Headers;
        var sources = batch.Sources;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] != PacketVerdict.Pending)
            {
                continue;
            }

            if (!table.TryGet(headers[i].Dcid, nowMs, out var route))
            {
                batch.Drop(i, DropReason.UnknownCid);
            }
            else if (route.IsLocal)
            {
                batch.MarkLocal(i, route.LocalSlot);
            }
            else if (route.Endpoint.Equals(sources[i]))
            {
                batch.Drop(i, DropReason.Reflection);
            }
            else
            {
                batch.Forward(i, route.Endpoint);
                if ((route.OwnerId & RouteFlags.ReportUse) != 0)
                {
                    sink?.OnRouteUsed(headers[i].Dcid);
                }
            }
        }

        next(batch);
    }
}
