using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// Cryptokey routing of packets read from the TUN device: the destination's longest matching prefix names the peer
/// (the slot's <see cref="PacketBatch.LocalSlots"/> is its index, verdict Local). Not an IP packet: dropped. No peer
/// covers it: answered with ICMP unreachable.
/// </summary>
internal sealed class IpRoutingStage(PacketDelegate next, VpnRouter router)
{
    public void Invoke(PacketBatch batch)
    {
        var counters = router.Counters;
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] != PacketVerdict.Pending)
            {
                continue;
            }

            var payload = batch.Payload(i);
            if (!IpPacket.TryParse(payload, out var packet))
            {
                Interlocked.Increment(ref counters.NotIp);
                batch.Drop(i, DropReason.NotIp);
                continue;
            }

            if (router.Routes.TryLookup(packet.Destination(payload), out var peer))
            {
                batch.MarkLocal(i, peer);
                continue;
            }

            Interlocked.Increment(ref counters.NoRoute);
            IcmpResponder.Unreachable(batch, i, packet);
        }

        next(batch);
    }
}

/// <summary>
/// Packets larger than their peer's connection carries in one DATAGRAM (its path MTU, as discovered) are answered
/// with ICMP fragmentation-needed / packet-too-big naming the size that fits, so the sender's path MTU discovery
/// adapts; a packet for a peer not yet connected passes (it is held until the connection is up).
/// </summary>
internal sealed class PeerMtuStage(PacketDelegate next, VpnRouter router)
{
    public void Invoke(PacketBatch batch)
    {
        var counters = router.Counters;
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] != PacketVerdict.Local)
            {
                continue;
            }

            var limit = router.Peers[batch.LocalSlots[i]].Connection?.MaxDatagramSize ?? 0;
            if (limit == 0 || batch.Lengths[i] <= limit)
            {
                continue;
            }

            Interlocked.Increment(ref counters.TooBig);
            IpPacket.TryParse(batch.Payload(i), out var packet);
            IcmpResponder.TooBig(batch, i, packet, limit);
        }

        next(batch);
    }
}

/// <summary>Hands each routed packet to its peer (a DATAGRAM on its connection, or held while it is dialled).</summary>
internal sealed class PeerDeliveryStage(PacketDelegate next, VpnRouter router)
{
    public void Invoke(PacketBatch batch)
    {
        var peers = router.Peers;
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] != PacketVerdict.Local)
            {
                continue;
            }

            peers[batch.LocalSlots[i]].Send(batch.Payload(i));
            batch.MarkConsumed(i);
        }

        next(batch);
    }
}
