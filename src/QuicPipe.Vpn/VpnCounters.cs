namespace QuicPipe.Vpn;

/// <summary>What a <see cref="VpnRouter"/> did with packets, both ways; cumulative, read from any thread.</summary>
public sealed class VpnCounters
{
    internal long PacketsSent;
    internal long BytesSent;
    internal long PacketsReceived;
    internal long BytesReceived;
    internal long NotIp;
    internal long NoRoute;
    internal long TooBig;
    internal long Spoofed;
    internal long BadDatagrams;
    internal long PendingDropped;
    internal long SendDropped;
    internal long TunWriteFailed;

    /// <summary>IP packets from the TUN device queued to a peer.</summary>
    public long Sent => Volatile.Read(ref PacketsSent);

    public long SentBytes => Volatile.Read(ref BytesSent);

    /// <summary>IP packets from peers written into the TUN device.</summary>
    public long Received => Volatile.Read(ref PacketsReceived);

    public long ReceivedBytes => Volatile.Read(ref BytesReceived);

    /// <summary>Frames read from the TUN device that are not IPv4 or IPv6 packets (dropped).</summary>
    public long NotIpPackets => Volatile.Read(ref NotIp);

    /// <summary>Packets to a destination no peer's prefixes cover (answered with ICMP unreachable where allowed).</summary>
    public long NoRoutePackets => Volatile.Read(ref NoRoute);

    /// <summary>Packets larger than the peer's path takes (answered with ICMP fragmentation-needed / packet-too-big).</summary>
    public long TooBigPackets => Volatile.Read(ref TooBig);

    /// <summary>Packets from a peer with a source address outside that peer's prefixes (dropped).</summary>
    public long SpoofedPackets => Volatile.Read(ref Spoofed);

    /// <summary>DATAGRAMs from a peer that are not IP packets (dropped).</summary>
    public long BadDatagramPackets => Volatile.Read(ref BadDatagrams);

    /// <summary>Packets dropped waiting for a connection: the pending queue was full, or the dial failed.</summary>
    public long PendingDroppedPackets => Volatile.Read(ref PendingDropped);

    /// <summary>Packets the connection's send queue refused (full, or the connection ending).</summary>
    public long SendDroppedPackets => Volatile.Read(ref SendDropped);

    /// <summary>Packets from peers the kernel refused to take from the TUN device.</summary>
    public long TunWriteFailures => Volatile.Read(ref TunWriteFailed);
}
