using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // void qp_conn_extend_max_streams(qp_conn *conn, int bidi, uint64_t n);
    [LibraryImport(Name, EntryPoint = "qp_conn_extend_max_streams")]
    internal static partial void ConnExtendMaxStreams(SafeQuicConnectionHandle connection, int bidi, ulong count);
}
