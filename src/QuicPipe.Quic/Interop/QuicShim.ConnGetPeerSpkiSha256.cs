using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // int qp_conn_get_peer_spki_sha256(qp_conn *conn, uint8_t *out);
    [LibraryImport(Name, EntryPoint = "qp_conn_get_peer_spki_sha256")]
    internal static unsafe partial int ConnGetPeerSpkiSha256(SafeQuicConnectionHandle connection, byte* hash);
}
