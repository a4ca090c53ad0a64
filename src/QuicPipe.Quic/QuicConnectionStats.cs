namespace QuicPipe.Quic;

/// <summary>
/// A snapshot of one connection's transport state (<see cref="QuicConnection.GetStatsAsync"/>). RTT and the
/// congestion window come from ngtcp2; bytes and datagrams are counted by the shim at the UDP payload level
/// (QUIC headers, ACKs and retransmissions included).
/// </summary>
public readonly record struct QuicConnectionStats
{
    /// <summary>Smoothed RTT (RFC 9002 §5.3).</summary>
    public TimeSpan SmoothedRtt { get; init; }

    /// <summary>Smallest RTT sample seen; <see cref="TimeSpan.Zero"/> before the first sample.</summary>
    public TimeSpan MinRtt { get; init; }

    /// <summary>The most recent RTT sample.</summary>
    public TimeSpan LatestRtt { get; init; }

    /// <summary>RTT variation (RFC 9002 §5.3).</summary>
    public TimeSpan RttVariation { get; init; }

    /// <summary>Congestion window, in bytes.</summary>
    public long CongestionWindow { get; init; }

    /// <summary>Bytes sent and not yet acknowledged or declared lost.</summary>
    public long BytesInFlight { get; init; }

    /// <summary>UDP payload bytes sent (every packet, CONNECTION_CLOSE included).</summary>
    public long BytesSent { get; init; }

    /// <summary>UDP payload bytes received for this connection.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Datagrams sent.</summary>
    public long PacketsSent { get; init; }

    /// <summary>Datagrams received.</summary>
    public long PacketsReceived { get; init; }

    /// <summary>
    /// Packets declared lost. ngtcp2 0.12 exposes no connection-wide count, so this sums its per-stream loss
    /// counts (packets carrying STREAM frames; one carrying two streams counts twice) and lost DATAGRAMs; lost
    /// packets with only ACK or control frames are not included. May include spurious losses.
    /// </summary>
    public long PacketsLost { get; init; }

    /// <summary>Probe timeouts in a row without an acknowledgement (0 on a healthy path).</summary>
    public int PtoCount { get; init; }

    /// <summary>The congestion controller the connection runs (<see cref="QuicEndpointOptions.CongestionControl"/>).</summary>
    public QuicCongestionControl CongestionControl { get; init; }
}
