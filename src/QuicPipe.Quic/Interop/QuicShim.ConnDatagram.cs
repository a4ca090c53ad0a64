using System.Runtime.InteropServices;

namespace QuicPipe.Quic.Interop;

internal static partial class QuicShim
{
    /// <summary>QP_ERR_DATAGRAM_QUEUE_FULL.</summary>
    internal const int ErrorDatagramQueueFull = -1004;

    /// <summary>QP_ERR_DATAGRAM_TOO_LARGE.</summary>
    internal const int ErrorDatagramTooLarge = -1005;

    // size_t qp_conn_max_datagram_payload(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_max_datagram_payload")]
    internal static partial nuint ConnMaxDatagramPayload(SafeQuicConnectionHandle connection);

    // int qp_conn_send_datagram(qp_conn *conn, const uint8_t *data, size_t len);
    [LibraryImport(Name, EntryPoint = "qp_conn_send_datagram")]
    internal static unsafe partial int ConnSendDatagram(SafeQuicConnectionHandle connection, byte* data, nuint length);

    // size_t qp_conn_datagrams_queued(qp_conn *conn);
    [LibraryImport(Name, EntryPoint = "qp_conn_datagrams_queued")]
    internal static partial nuint ConnDatagramsQueued(SafeQuicConnectionHandle connection);
}
