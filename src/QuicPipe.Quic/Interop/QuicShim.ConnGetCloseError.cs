using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // size_t qp_conn_get_close_error(qp_conn *conn, int *type, uint64_t *code, char *reason_buf, size_t reason_cap);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_close_error")]
    internal static unsafe partial nuint ConnGetCloseError(SafeQuicConnectionHandle connection, out int type, out ulong code, byte* reason, nuint reasonCapacity);
}
