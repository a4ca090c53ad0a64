namespace QuicPipe.Peer;

/// <summary>
/// Bytes a connection sent plus received (UDP payload, as QUIC counts them) while on each kind of path. The split
/// is taken at each path change, so it is exact up to the packets in flight at that moment.
/// </summary>
public readonly record struct PeerPathTraffic(long ViaRelay, long Direct)
{
    public long Total => ViaRelay + Direct;

    /// <summary>The share of all bytes that crossed the relay (0 when nothing moved yet).</summary>
    public double RelayShare => Total == 0 ? 0 : (double)ViaRelay / Total;
}
