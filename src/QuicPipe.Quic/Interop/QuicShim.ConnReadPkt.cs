using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_read_pkt(qp_conn *conn, const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen, const uint8_t *pkt, size_t pktlen, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_read_pkt")]
    internal static unsafe partial int ConnReadPkt(SafeQuicConnectionHandle connection, byte* local, uint localLength, byte* remote, uint remoteLength, byte* packet, nuint packetLength, ulong timestamp);
}
