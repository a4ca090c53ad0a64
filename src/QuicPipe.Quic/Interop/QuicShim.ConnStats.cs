using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    /// <summary>Mirrors <c>qp_conn_stats</c>: only 64-bit fields, so sequential layout matches C with no padding.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ConnStats
    {
        public ulong SmoothedRttNs;
        public ulong MinRttNs;
        public ulong LatestRttNs;
        public ulong RttVarNs;
        public ulong CongestionWindow;
        public ulong BytesInFlight;
        public ulong BytesSent;
        public ulong BytesReceived;
        public ulong PacketsSent;
        public ulong PacketsReceived;
        public ulong PacketsLost;
        public ulong PtoCount;
        public ulong CongestionControl;
    }

    // size_t qp_conn_stats_size(void);
    [LibraryImport(Name, EntryPoint = "qp_conn_stats_size")]
    internal static partial nuint ConnStatsSize();

    // int qp_conn_get_stats(qp_conn *conn, qp_conn_stats *stats);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_stats")]
    internal static partial int ConnGetStats(SafeQuicConnectionHandle connection, out ConnStats stats);
}
