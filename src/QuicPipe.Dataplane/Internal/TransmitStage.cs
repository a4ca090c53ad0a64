namespace QuicPipe.Dataplane.Internal;

/// <summary>The end of a listener's pipeline: hand every forwarded datagram to the kernel in one sendmmsg round.</summary>
internal sealed class TransmitStage(UdpBatchSocket socket, DataplaneCounters counters)
{
    public void Invoke(PacketBatch batch) => socket.Send(batch, counters);
}
