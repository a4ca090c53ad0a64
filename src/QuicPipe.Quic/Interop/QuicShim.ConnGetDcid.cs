using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_get_dcid(qp_conn *conn, uint8_t *out);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_dcid")]
    internal static unsafe partial int ConnGetDcid(SafeQuicConnectionHandle connection, byte* destination);
}
