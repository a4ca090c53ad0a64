using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // uint64_t qp_conn_stream_unacked(qp_conn *conn, int64_t stream_id);
    [LibraryImport(Name, EntryPoint = "qp_conn_stream_unacked")]
    internal static partial ulong ConnStreamUnacked(SafeQuicConnectionHandle connection, long streamId);
}
