using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_stream_write(qp_conn *conn, int64_t stream_id, const uint8_t *data, size_t len, int fin);
    [LibraryImport(Name, EntryPoint = "qp_conn_stream_write")]
    internal static unsafe partial int ConnStreamWrite(SafeQuicConnectionHandle connection, long streamId, byte* data, nuint length, int fin);
}
