using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    // qp_conn *qp_conn_server_new(const uint8_t *pkt, size_t pktlen, const uint8_t *odcid, size_t odcidlen, const uint8_t *scid, size_t scidlen, const uint8_t *reset_token, const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen, qp_creds *creds, const uint8_t *alpn, size_t alpnlen, const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config, uint64_t ts, void *user, int *error);
    [LibraryImport(Name, EntryPoint = "qp_conn_server_new")]
    internal static unsafe partial SafeQuicConnectionHandle ConnServerNew(byte* packet, nuint packetLength, byte* originalDcid, nuint originalDcidLength, byte* scid, nuint scidLength, byte* resetToken, byte* local, uint localLength, byte* remote, uint remoteLength, SafeQuicCredentialsHandle credentials, byte* alpn, nuint alpnLength, byte* expectedPeerSpkiSha256, ConnConfig* config, ulong timestamp, nint user, out int error);
}
