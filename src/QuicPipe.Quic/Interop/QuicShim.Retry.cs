using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    /// <summary>QP_ERR_TOKEN: no valid Retry token (none, not ours, expired, another address or CID).</summary>
    internal const int ErrorToken = -1008;

    /// <summary>Largest CID (NGTCP2_MAX_CIDLEN): room for the original DCID a Retry token carries.</summary>
    internal const int MaxConnectionIdLength = 20;

    // int qp_retry_write(uint8_t *buf, size_t buflen, const uint8_t *pkt, size_t pktlen, const uint8_t *retry_scid, size_t retry_scidlen, const uint8_t *secret, size_t secretlen, const uint8_t *remote, uint32_t remotelen, uint64_t ts);
    [LibraryImport(Name, EntryPoint = "qp_retry_write")]
    internal static unsafe partial int RetryWrite(byte* buffer, nuint bufferLength, byte* packet, nuint packetLength, byte* retryScid, nuint retryScidLength, byte* secret, nuint secretLength, byte* remote, uint remoteLength, ulong timestamp);

    // int qp_retry_token_verify(const uint8_t *pkt, size_t pktlen, const uint8_t *secret, size_t secretlen, const uint8_t *remote, uint32_t remotelen, uint64_t timeout_ns, uint64_t ts, uint8_t *odcid, size_t *odcidlen);
    [LibraryImport(Name, EntryPoint = "qp_retry_token_verify")]
    internal static unsafe partial int RetryTokenVerify(byte* packet, nuint packetLength, byte* secret, nuint secretLength, byte* remote, uint remoteLength, ulong timeoutNs, ulong timestamp, byte* originalDcid, out nuint originalDcidLength);
}
