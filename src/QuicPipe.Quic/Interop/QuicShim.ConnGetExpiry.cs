using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // uint64_t qp_conn_get_expiry(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_expiry")]
    internal static partial ulong ConnGetExpiry(SafeQuicConnectionHandle connection);
}
