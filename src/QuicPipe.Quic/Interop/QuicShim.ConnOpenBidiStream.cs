using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int64_t qp_conn_open_bidi_stream(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_open_bidi_stream")]
    internal static partial long ConnOpenBidiStream(SafeQuicConnectionHandle connection);
}
