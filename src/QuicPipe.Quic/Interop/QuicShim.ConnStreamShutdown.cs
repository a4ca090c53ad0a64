using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_stream_shutdown(qp_conn *conn, int64_t stream_id, uint64_t app_error_code, uint32_t directions);
    [LibraryImport(Name, EntryPoint = "qp_conn_stream_shutdown")]
    internal static partial int ConnStreamShutdown(SafeQuicConnectionHandle connection, long streamId, ulong applicationErrorCode, uint directions);
}
