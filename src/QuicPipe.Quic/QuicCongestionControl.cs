namespace QuicPipe.Quic;

/// <summary>The congestion controller of a connection (ngtcp2's implementations).</summary>
public enum QuicCongestionControl
{
    /// <summary>CUBIC (RFC 9438), paced at 1.25 congestion windows per smoothed RTT.</summary>
    Cubic = 0,

    /// <summary>
    /// BBRv2 (ngtcp2 0.12's implementation): paces at the delivery rate it measures rather than by the window the
    /// acknowledgements open. On loopback it moved one stream up to 1.4x faster than CUBIC in some runs and no faster
    /// in others, for about the same CPU per MiB (perf/RESULTS.md, 2026-12-07 evening): not the default until
    /// measured on a quiet machine and on lossy paths.
    /// </summary>
    Bbr2 = 1,
}
