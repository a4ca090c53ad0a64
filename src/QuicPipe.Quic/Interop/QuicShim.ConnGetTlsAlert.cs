using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_get_tls_alert(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_tls_alert")]
    internal static partial int ConnGetTlsAlert(SafeQuicConnectionHandle connection);
}
