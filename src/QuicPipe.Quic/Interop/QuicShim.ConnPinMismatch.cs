using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_pin_mismatch(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_pin_mismatch")]
    internal static partial int ConnPinMismatch(SafeQuicConnectionHandle connection);
}
