using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_is_closing(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_is_closing")]
    internal static partial int ConnIsClosing(SafeQuicConnectionHandle connection);
}
