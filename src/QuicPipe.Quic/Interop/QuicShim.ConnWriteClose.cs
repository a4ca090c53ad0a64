using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_write_close(qp_conn *conn, uint8_t *buf, size_t buflen, uint8_t *remote_addr, uint64_t app_error_code, const uint8_t *reason, size_t reasonlen, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_write_close")]
    internal static unsafe partial int ConnWriteClose(SafeQuicConnectionHandle connection, byte* buffer, nuint bufferLength, byte* remoteAddress, ulong applicationErrorCode, byte* reason, nuint reasonLength, ulong timestamp);
}
