using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// Answers the path probes of our connections' peers and takes the answers to our own
/// (<see cref="QuicConnection.ProbePathAsync"/>); forged ones are dropped and counted by the endpoint's <see cref="PathProbeResponder"/>. Looks only at
/// datagrams no connection claimed, as a probe is not a QUIC packet. Runs on the endpoint's loop thread.
/// </summary>
internal sealed class PathProbeStage(PacketDelegate next, QuicEndpoint endpoint)
{
    public void Invoke(PacketBatch batch)
    {
        var verdicts = batch.Verdicts;
        for (var i = 0; i < batch.Count; i++)
        {
            if (verdicts[i] is PacketVerdict.Pending or PacketVerdict.Drop
                && endpoint.PathProbes.TryHandle(batch.Payload(i), batch.Sources[i]))
            {
                batch.MarkConsumed(i);
            }
        }

        next(batch);
    }
}
