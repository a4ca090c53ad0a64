using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // uint64_t qp_conn_get_pto(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_pto")]
    internal static partial ulong ConnGetPto(SafeQuicConnectionHandle connection);
}
