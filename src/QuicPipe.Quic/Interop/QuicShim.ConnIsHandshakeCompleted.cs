using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_is_handshake_completed(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_is_handshake_completed")]
    internal static partial int ConnIsHandshakeCompleted(SafeQuicConnectionHandle connection);
}
