using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_migrate(qp_conn *conn, const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen, int validate, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_conn_migrate")]
    internal static unsafe partial int ConnMigrate(SafeQuicConnectionHandle connection, byte* local, uint localLength, byte* remote, uint remoteLength, int validate, ulong timestamp);
}
