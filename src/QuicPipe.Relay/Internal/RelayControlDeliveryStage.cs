using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;
using QuicPipe.Quic;

namespace QuicPipe.Relay.Internal;

/// <summary>
/// Picks out the packets that end at the relay: a destination CID in the relay namespace (top bit set) that
/// no route claims. They go to the control service's QUIC endpoint on this loop's address; everything else
/// continues to forwarding. A route wins over the namespace so that a static route never changes meaning when
/// the service is on.
/// </summary>
internal sealed class RelayControlDeliveryStage(PacketDelegate next, CidTable table, QuicListenerEndpoints endpoints, int addressIndex)
{
    public void Invoke(PacketBatch batch)
    {
        var nowMs = table.NowMs;
        var verdicts = batch.Verdicts;
        var headers = batch.Headers;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] != PacketVerdict.Pending
                || CidDerivation.NamespaceOf(headers[i].Dcid) != CidNamespace.Relay
                || table.TryGet(headers[i].Dcid, nowMs, out _))
            {
                continue;
            }

            endpoints.Deliver(batch, i, addressIndex);
        }

        next(batch);
    }
}
