using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_extend_credit(qp_conn *conn, int64_t stream_id, uint64_t n);
    [LibraryImport(Name, EntryPoint = "qp_conn_extend_credit")]
    internal static partial int ConnExtendCredit(SafeQuicConnectionHandle connection, long streamId, ulong bytes);
}
