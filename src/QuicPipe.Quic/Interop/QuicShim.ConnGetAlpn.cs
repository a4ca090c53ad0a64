using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // size_t qp_conn_get_alpn(qp_conn *conn, uint8_t *buf, size_t cap);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_alpn")]
    internal static unsafe partial nuint ConnGetAlpn(SafeQuicConnectionHandle connection, byte* buffer, nuint capacity);
}
