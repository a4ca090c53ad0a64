using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_handle_expiry(qp_conn *conn, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_handle_expiry")]
    internal static partial int ConnHandleExpiry(SafeQuicConnectionHandle connection, ulong timestamp);
}
