using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // void qp_conn_del(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_del")]
    internal static partial void ConnDel(nint connection);
}
