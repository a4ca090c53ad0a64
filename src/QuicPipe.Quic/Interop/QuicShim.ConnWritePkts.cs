using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_write_pkts(qp_conn *conn, uint8_t *slots, size_t slot_size, size_t max_pkts, int32_t *lengths, uint8_t *remote_addrs, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_write_pkts")]
    internal static unsafe partial int ConnWritePkts(SafeQuicConnectionHandle connection, byte* slots, nuint slotSize, nuint maxPackets, int* lengths, byte* remoteAddresses, ulong timestamp);
}
