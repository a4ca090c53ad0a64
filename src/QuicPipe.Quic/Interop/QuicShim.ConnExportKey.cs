using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_export_key(qp_conn *conn, const char *label, uint8_t *out, size_t len);
    [LibraryImport(Name, EntryPoint = "qp_conn_export_key", StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int ConnExportKey(SafeQuicConnectionHandle connection, string label, byte* output, nuint length);
}
