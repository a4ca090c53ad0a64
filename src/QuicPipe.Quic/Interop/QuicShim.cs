namespace QuicPipe.Quic.Interop;

/// <summary>
/// The native shim (native/, C API in quicpipe_quic.h) over ngtcp2 + GnuTLS. One partial class; one file per function,
/// each with its C signature. Only scalars, byte pointers and raw sockaddrs cross: no struct is mirrored.
/// </summary>
internal static partial class QuicShim
{
    /// <summary>The shim's file name without "lib"/".so"; the build copies it beside this assembly.</summary>
    internal const string Name = "quicpipe_quic";

    /// <summary>Bytes per address in write_pkts' remote address array (sizeof(struct sockaddr_in6)).</summary>
    internal const int AddressSize = 28;

    internal const int SpkiHashSize = 32;

    internal const int StatelessResetTokenSize = 16;

    /// <summary>QP_ERR_PIN_MISMATCH: the peer's certificate is not the pinned one.</summary>
    internal const int ErrorPinMismatch = -1001;

    /// <summary>QP_STREAM_CLOSE_APP_ERROR_SET.</summary>
    internal const uint StreamCloseAppErrorSet = 0x01;

    /// <summary>NGTCP2_ERR_DRAINING: the peer closed; send nothing more.</summary>
    internal const int ErrorDraining = -231;

    /// <summary>NGTCP2_ERR_DROP_CONN: drop the connection silently.</summary>
    internal const int ErrorDropConnection = -242;

    /// <summary>NGTCP2_ERR_IDLE_CLOSE: the idle timeout passed; close silently.</summary>
    internal const int ErrorIdleClose = -248;

    /// <summary>NGTCP2_ERR_HANDSHAKE_TIMEOUT: the handshake did not complete in time.</summary>
    internal const int ErrorHandshakeTimeout = -246;

    /// <summary>NGTCP2_ERR_STREAM_ID_BLOCKED: the peer's stream limit is reached.</summary>
    internal const int ErrorStreamIdBlocked = -208;

    /// <summary>NGTCP2_ERR_INVALID_STATE: e.g. a migration before the handshake is confirmed, or by a server.</summary>
    internal const int ErrorInvalidState = -206;

    /// <summary>NGTCP2_ERR_INVALID_ARGUMENT.</summary>
    internal const int ErrorInvalidArgument = -201;

    /// <summary>NGTCP2_ERR_CONN_ID_BLOCKED: no unused CID of the peer's to migrate with (NEW_CONNECTION_ID pending).</summary>
    internal const int ErrorConnectionIdBlocked = -237;

    /// <summary>Largest datagram the shim writes (NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE); slots must hold it.</summary>
    internal const int MaxDatagramSize = 1452;

    /// <summary>The shim's description of an error code.</summary>
    internal static string Describe(int error) =>
        System.Runtime.InteropServices.Marshal.PtrToStringUTF8(StrError(error)) ?? $"error {error}";
}
