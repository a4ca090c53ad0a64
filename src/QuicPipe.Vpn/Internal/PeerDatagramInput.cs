using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;

namespace QuicPipe.Vpn.Internal;

/// <summary>
/// One connection's DATAGRAMs into the TUN device, on that connection's QUIC loop: each one the peer may send
/// (<see cref="VpnPeer.TryAccept"/>) goes to this connection's own <see cref="TunPacketWriter"/>, which joins TCP
/// segments until the end of the receive batch; then what the writer did is added to the VPN's counters.
/// </summary>
internal sealed class PeerDatagramInput(VpnPeer peer, VpnRouter router) : IQuicDatagramReceiver
{
    private TunPacketWriter? _writer;
    private TunTransport? _writerTun;

    // The writer's totals when last added to the router's counters.
    private long _countedPackets;
    private long _countedBytes;
    private long _countedFailures;

    public void OnDatagram(QuicConnection connection, ReadOnlySpan<byte> datagram)
    {
        if (!peer.TryAccept(datagram, out var length))
        {
            return;
        }

        var writer = WriterFor(router.Tun);
        if (writer is null)
        {
            Interlocked.Increment(ref router.Counters.TunWriteFailed);
            return;
        }

        writer.Write(datagram[..length]);
    }

    public void OnDatagramBatchEnd(QuicConnection connection) => FlushAndCount();

    private void FlushAndCount()
    {
        if (_writer is not { } writer)
        {
            return;
        }

        writer.Flush();
        var counters = router.Counters;
        if (writer.PacketsWritten != _countedPackets)
        {
            Interlocked.Add(ref counters.PacketsReceived, writer.PacketsWritten - _countedPackets);
            Interlocked.Add(ref counters.BytesReceived, writer.BytesWritten - _countedBytes);
            _countedPackets = writer.PacketsWritten;
            _countedBytes = writer.BytesWritten;
        }

        if (writer.WriteFailures != _countedFailures)
        {
            Interlocked.Add(ref counters.TunWriteFailed, writer.WriteFailures - _countedFailures);
            _countedFailures = writer.WriteFailures;
        }
    }

    // The device can go (the listener stops) and, in a restarted listener, come back: a writer follows it.
    private TunPacketWriter? WriterFor(TunTransport? tun)
    {
        if (!ReferenceEquals(tun, _writerTun))
        {
            FlushAndCount();
            _writer = tun?.CreateWriter();
            _writerTun = tun;
            _countedPackets = _countedBytes = _countedFailures = 0;
        }

        return _writer;
    }
}
