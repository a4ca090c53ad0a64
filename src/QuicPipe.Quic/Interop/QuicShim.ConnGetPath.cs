using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_get_path(qp_conn *conn, uint8_t *local, uint8_t *remote);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_path")]
    internal static unsafe partial int ConnGetPath(SafeQuicConnectionHandle connection, byte* local, byte* remote);
}
