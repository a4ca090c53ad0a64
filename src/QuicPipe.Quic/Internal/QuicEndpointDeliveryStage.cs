using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Quic.Internal;

/// <summary>Hands every packet no earlier stage decided for to the listener's QUIC endpoint on this loop's address.</summary>
internal sealed class QuicEndpointDeliveryStage(PacketDelegate next, QuicListenerEndpoints endpoints, int addressIndex)
{
    public void Invoke(PacketBatch batch)
    {
        var verdicts = batch.Verdicts;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] == PacketVerdict.Pending)
            {
                endpoints.Deliver(batch, i, addressIndex);
            }
        }

        next(batch);
    }
}
