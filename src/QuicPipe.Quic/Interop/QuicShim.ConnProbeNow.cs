using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_probe_now(qp_conn *conn, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_probe_now")]
    internal static partial int ConnProbeNow(SafeQuicConnectionHandle connection, ulong timestamp);
}
