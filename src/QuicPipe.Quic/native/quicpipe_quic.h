/*
 * quicpipe_quic: a thin, sans-IO C layer over libngtcp2 (0.12) + libngtcp2_crypto_gnutls + GnuTLS.
 *
 * Why it exists: ngtcp2's public structs (settings, transport params, callbacks, paths) are versioned and
 * large; mirroring them in C# would tie the managed code to one ngtcp2 release. This layer takes and returns
 * only scalars, byte pointers and raw sockaddrs, so no struct crosses the C/C# boundary.
 *
 * Model: the caller owns the socket and the clock. It creates a connection, feeds it received datagrams
 * (qp_conn_read_pkt), pulls datagrams to send into its own buffers (qp_conn_write_pkts), and calls
 * qp_conn_handle_expiry when qp_conn_get_expiry passes. Events reach the caller through the process-wide
 * callbacks registered once with qp_init, each with the connection's opaque user pointer.
 *
 * Threading: a connection is used by one thread at a time; callbacks run on that thread, inside
 * qp_conn_read_pkt / qp_conn_write_pkts / qp_conn_handle_expiry.
 *
 * Errors: functions return 0 (or a count) on success and a negative ngtcp2 error code (NGTCP2_ERR_*) or
 * QP_ERR_* on failure; qp_strerror names them.
 */
#ifndef QUICPIPE_QUIC_H
#define QUICPIPE_QUIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QP_EXPORT __attribute__((visibility("default")))

/* Bytes reserved per address in qp_conn_write_pkts' remote_addrs: sizeof(struct sockaddr_in6). */
#define QP_ADDR_SIZE 28

/* SHA-256 of a certificate's SubjectPublicKeyInfo: what a NodeId encodes. */
#define QP_SPKI_HASH_SIZE 32

#define QP_STATELESS_RESET_TOKEN_SIZE 16

/* qp_conn_send_datagram: the connection's DATAGRAM send queue (QP_MAX_DATAGRAM_QUEUE) is full. */
#define QP_ERR_DATAGRAM_QUEUE_FULL (-1004)
/* qp_conn_send_datagram: the datagram is larger than qp_conn_max_datagram_payload allows (0 if not negotiated). */
#define QP_ERR_DATAGRAM_TOO_LARGE (-1005)

/* qp_initial_check / qp_retry_*: not a QUIC v1 client Initial that can be checked (header, version, lengths). */
#define QP_ERR_INITIAL_HEADER (-1006)
/* qp_initial_check: the first packet does not decrypt with the Initial keys derived from its DCID. */
#define QP_ERR_INITIAL_DECRYPT (-1007)
/* qp_retry_token_verify: no token, not a Retry token of ours, expired, or for another address or CID. */
#define QP_ERR_TOKEN (-1008)

/* Most DATAGRAMs queued and not yet written into packets, per connection. */
#define QP_MAX_DATAGRAM_QUEUE 4096

/* Protocols a server connection may take at most (qp_conn_server_new's alpn list). */
#define QP_MAX_SERVER_ALPNS 4

/* The TLS layer refused the peer's certificate because its SPKI hash is not the pinned one. */
#define QP_ERR_PIN_MISMATCH (-1001)
/* Bad argument (NULL, length out of range, bad PEM). */
#define QP_ERR_ARGUMENT (-1002)
/* GnuTLS set-up failed (credentials, priorities, ALPN). */
#define QP_ERR_TLS_SETUP (-1003)

/* Stream event kinds passed to qp_on_stream_close. */
#define QP_STREAM_CLOSE_APP_ERROR_SET 0x01u

/* Directions for qp_conn_stream_shutdown. */
#define QP_SHUTDOWN_READ 0x01u  /* STOP_SENDING: we read no more */
#define QP_SHUTDOWN_WRITE 0x02u /* RESET_STREAM: we send no more */

typedef struct qp_conn qp_conn;

/*
 * Our identity (certificate and key), parsed once and shared by every connection of an endpoint, so that a
 * new connection (one per Initial, forged ones included) costs no PEM parsing. Must outlive its connections.
 */
typedef struct qp_creds qp_creds;

/* cert_pem/key_pem: NUL-terminated PEM. On failure returns NULL and stores the error in *error. */
QP_EXPORT qp_creds *qp_creds_new(const char *cert_pem, const char *key_pem, int *error);
/* NULL is ignored. */
QP_EXPORT void qp_creds_del(qp_creds *creds);

/*
 * Per-connection settings. Only uint64_t fields, so the layout has no padding; C# mirrors it (QuicShim.ConnConfig)
 * and a layout test compares sizeof through qp_conn_config_size. 0 in a window field keeps the shim's default.
 */
typedef struct qp_conn_config {
    uint64_t idle_timeout_ns;      /* 0: none */
    uint64_t handshake_timeout_ns; /* 0: none */
    uint64_t stream_window;        /* initial receive window per stream */
    uint64_t max_stream_window;    /* auto-tuning limit of a stream's window (>= stream_window) */
    uint64_t conn_window;          /* initial receive window of the connection */
    uint64_t max_conn_window;      /* auto-tuning limit of the connection's window (>= conn_window) */
    uint64_t keep_alive_ns;        /* send a PING after this long without sending; 0: no keep-alive */
    uint64_t max_datagram_frame_size; /* RFC 9221 transport parameter: largest DATAGRAM frame we take; 0: none */
    uint64_t congestion_control;   /* QP_CC_CUBIC or QP_CC_BBR2 */
} qp_conn_config;

/* Congestion controllers (qp_conn_config.congestion_control, qp_conn_stats.congestion_control). */
#define QP_CC_CUBIC 0
#define QP_CC_BBR2 1

QP_EXPORT size_t qp_conn_config_size(void);

/* Callbacks into the caller. Return 0 to go on; non-zero fails the connection (NGTCP2_ERR_CALLBACK_FAILURE). */
typedef int (*qp_on_handshake_completed)(void *user);
typedef int (*qp_on_stream_open)(void *user, int64_t stream_id);
/* data is valid during the call only; its bytes hold flow-control credit until qp_conn_extend_credit returns it. */
typedef int (*qp_on_stream_data)(void *user, int64_t stream_id, const uint8_t *data, size_t len, int fin);
typedef int (*qp_on_stream_close)(void *user, int64_t stream_id, uint32_t flags, uint64_t app_error_code);
/* Fill cid[0..cidlen) with a new CID for this connection and token[0..16) with its stateless-reset token. */
/* The peer reset its sending side of the stream (RESET_STREAM) with app_error_code. */
typedef int (*qp_on_stream_reset)(void *user, int64_t stream_id, uint64_t app_error_code);
/*
 * The peer asked us to stop sending (STOP_SENDING). ngtcp2 0.12 answers with RESET_STREAM by itself and does not
 * report the frame, so this is noticed (without its error code) when queued data can no longer be sent.
 */
typedef int (*qp_on_stream_send_stopped)(void *user, int64_t stream_id);
/* A DATAGRAM frame arrived (RFC 9221); data is valid during the call only. */
typedef int (*qp_on_datagram)(void *user, const uint8_t *data, size_t len);
typedef int (*qp_on_new_cid)(void *user, uint8_t *cid, size_t cidlen, uint8_t *token);
typedef int (*qp_on_remove_cid)(void *user, const uint8_t *cid, size_t cidlen);
/*
 * A path validation ended (ngtcp2's path_validation callback): succeeded != 0 if the peer answered the
 * PATH_CHALLENGE on path (local, remote). Runs for the client's own migrations and for a server validating a
 * client that moved. Whether the connection switched paths is reported separately (qp_on_path_changed).
 */
typedef int (*qp_on_path_validation)(void *user, int succeeded, const uint8_t *local, uint32_t locallen,
                                     const uint8_t *remote, uint32_t remotelen);
/*
 * The connection's current path (the addresses its packets go between) is no longer the one it had: our
 * migration was validated, the peer moved or was NAT-rebound (a server follows at once and validates after), or a
 * failed validation sent it back. Checked after every qp_conn_read_pkt / write_pkts / handle_expiry / migration.
 */
typedef int (*qp_on_path_changed)(void *user, const uint8_t *local, uint32_t locallen, const uint8_t *remote,
                                  uint32_t remotelen);

/* Registers the callbacks for every connection of the process. Call once, before creating connections. */
QP_EXPORT int qp_init(qp_on_handshake_completed on_handshake_completed, qp_on_stream_open on_stream_open,
                      qp_on_stream_data on_stream_data, qp_on_stream_close on_stream_close,
                      qp_on_stream_reset on_stream_reset, qp_on_stream_send_stopped on_stream_send_stopped,
                      qp_on_new_cid on_new_cid, qp_on_remove_cid on_remove_cid, qp_on_datagram on_datagram,
                      qp_on_path_validation on_path_validation, qp_on_path_changed on_path_changed);

/*
 * Creates a client connection. dcid/scid: the initial destination and source CIDs (caller-chosen).
 * local/remote: raw sockaddr_in or sockaddr_in6. creds: our identity.
 * alpn: one protocol name (not NUL-terminated); a server's may hold up to QP_MAX_SERVER_ALPNS names separated by NUL
 * bytes, of which the client must offer one. expected_peer_spki_sha256: 32 bytes to pin, or NULL to
 * accept any certificate (its hash is still recorded). config: the settings above. ts: now, in ns.
 * On failure returns NULL and stores the error in *error.
 */
QP_EXPORT qp_conn *qp_conn_client_new(const uint8_t *dcid, size_t dcidlen, const uint8_t *scid, size_t scidlen,
                                      const uint8_t *local, uint32_t locallen, const uint8_t *remote,
                                      uint32_t remotelen, qp_creds *creds, const uint8_t *alpn, size_t alpnlen,
                                      const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config,
                                      uint64_t ts, void *user, int *error);

/*
 * Creates a server connection from a client's first Initial datagram (pkt), which the caller then also
 * passes to qp_conn_read_pkt. odcid: for an Initial that carried a valid Retry token, the original DCID that
 * qp_retry_token_verify returned (the connection then says so in its transport parameters and counts the address
 * as validated); NULL otherwise. scid: our CID; reset_token: its 16-byte stateless-reset token. The other
 * arguments are as for qp_conn_client_new; the server requests a client certificate and, with a pin, requires it.
 */
QP_EXPORT qp_conn *qp_conn_server_new(const uint8_t *pkt, size_t pktlen, const uint8_t *odcid, size_t odcidlen,
                                      const uint8_t *scid, size_t scidlen, const uint8_t *reset_token, const uint8_t *local, uint32_t locallen,
                                      const uint8_t *remote, uint32_t remotelen, qp_creds *creds,
                                      const uint8_t *alpn, size_t alpnlen,
                                      const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config,
                                      uint64_t ts, void *user, int *error);

/*
 * Checks a client's first Initial datagram before anything is created for it: a QUIC v1 Initial long header whose
 * first packet decrypts with the client Initial keys derived from its DCID (RFC 9001 5.2). Costs one key
 * derivation and one AEAD open, allocates nothing. On success stores where the packet's token is in pkt (length
 * 0: none). Returns 0, QP_ERR_INITIAL_HEADER or QP_ERR_INITIAL_DECRYPT.
 */
QP_EXPORT int qp_initial_check(const uint8_t *pkt, size_t pktlen, size_t *token_offset, size_t *tokenlen);

/*
 * Writes into buf the Retry packet (RFC 9000 17.2.5) that answers the client Initial pkt from remote: its token
 * (ngtcp2_crypto_generate_retry_token, keyed by secret) binds remote, retry_scid (the CID the client must use
 * next) and the Initial's DCID, at time ts (ns). Stateless. Returns the packet's length or a negative error.
 */
QP_EXPORT int qp_retry_write(uint8_t *buf, size_t buflen, const uint8_t *pkt, size_t pktlen, const uint8_t *retry_scid,
                             size_t retry_scidlen, const uint8_t *secret, size_t secretlen, const uint8_t *remote,
                             uint32_t remotelen, uint64_t ts);

/*
 * Verifies the Retry token in the client Initial pkt from remote (keyed by secret, at most timeout_ns old at ts):
 * on success the client's original DCID (up to 20 bytes) goes into odcid and its length into *odcidlen. Returns 0,
 * QP_ERR_TOKEN (no token, not ours, expired, another address or CID) or QP_ERR_INITIAL_HEADER.
 */
QP_EXPORT int qp_retry_token_verify(const uint8_t *pkt, size_t pktlen, const uint8_t *secret, size_t secretlen,
                                    const uint8_t *remote, uint32_t remotelen, uint64_t timeout_ns, uint64_t ts,
                                    uint8_t *odcid, size_t *odcidlen);

/* Frees the connection, its TLS session and any unsent stream data. NULL is ignored. */
QP_EXPORT void qp_conn_del(qp_conn *conn);

/* Feeds one received datagram. Returns 0 or a negative error (the connection is then unusable). */
QP_EXPORT int qp_conn_read_pkt(qp_conn *conn, const uint8_t *local, uint32_t locallen, const uint8_t *remote,
                               uint32_t remotelen, const uint8_t *pkt, size_t pktlen, uint64_t ts);

/*
 * Writes up to max_pkts datagrams: datagram i into slots + i * slot_size, its length into lengths[i], its
 * destination sockaddr into remote_addrs + i * QP_ADDR_SIZE (zero-padded). Pending stream data and control
 * frames are packed in. Returns the number of datagrams written (0: nothing to send now) or a negative error.
 */
QP_EXPORT int qp_conn_write_pkts(qp_conn *conn, uint8_t *slots, size_t slot_size, size_t max_pkts,
                                 int32_t *lengths, uint8_t *remote_addrs, uint64_t ts);

/*
 * Writes a CONNECTION_CLOSE datagram into buf (and its destination into remote_addr): the stored transport
 * error after a failed call, else an application close with app_error_code and the reason phrase
 * reason[0..reasonlen) (UTF-8, may be NULL/0; ngtcp2 truncates what does not fit the packet). Returns its
 * length, 0 when nothing may be sent (draining, or no keys yet), or a negative error.
 */
QP_EXPORT int qp_conn_write_close(qp_conn *conn, uint8_t *buf, size_t buflen, uint8_t *remote_addr,
                                  uint64_t app_error_code, const uint8_t *reason, size_t reasonlen, uint64_t ts);

/*
 * Per-connection statistics. Only uint64_t fields (no padding); C# mirrors it (QuicShim.ConnStats) and a layout
 * test compares sizeof through qp_conn_stats_size. ngtcp2 0.12's ngtcp2_conn_stat has RTT and congestion state
 * but no byte or loss counters: the shim counts datagrams and bytes itself at read_pkt/write_pkts/write_close,
 * and packets_lost is the sum of ngtcp2_conn_get_stream_loss_count over every stream the connection has had
 * (packets with STREAM frames declared lost; a packet carrying two streams counts twice) plus lost DATAGRAMs.
 */
typedef struct qp_conn_stats {
    uint64_t smoothed_rtt_ns;
    uint64_t min_rtt_ns;     /* UINT64_MAX before the first RTT sample */
    uint64_t latest_rtt_ns;
    uint64_t rttvar_ns;
    uint64_t cwnd;           /* congestion window, bytes */
    uint64_t bytes_in_flight;
    uint64_t bytes_sent;     /* UDP payload bytes */
    uint64_t bytes_received; /* UDP payload bytes handed to qp_conn_read_pkt */
    uint64_t packets_sent;   /* datagrams */
    uint64_t packets_received;
    uint64_t packets_lost;
    uint64_t pto_count;
    uint64_t congestion_control; /* the controller the connection runs: QP_CC_CUBIC or QP_CC_BBR2 */
} qp_conn_stats;

QP_EXPORT size_t qp_conn_stats_size(void);
/* Fills *stats; 0 or QP_ERR_ARGUMENT. */
QP_EXPORT int qp_conn_get_stats(qp_conn *conn, qp_conn_stats *stats);

/* The next time (ns) qp_conn_handle_expiry must be called; UINT64_MAX for never. */
QP_EXPORT uint64_t qp_conn_get_expiry(qp_conn *conn);
QP_EXPORT int qp_conn_handle_expiry(qp_conn *conn, uint64_t ts);

/*
 * For a caller that knows the path works again (its relay is back): the loss-recovery probe that the backed-off
 * probe timer would send later becomes due now (qp_conn_get_expiry returns ts; qp_conn_handle_expiry then queues
 * it). Returns 1 if it did; 0 if no probe has gone unanswered yet (a healthy connection is left alone), the timer
 * is due anyway, the connection is closing, a path validation is under way (a migration of ours, or a server's check
 * of the path its peer moved to), or the jump would take more than half of what is left of the idle timeout;
 * QP_ERR_ARGUMENT.
 */
QP_EXPORT int qp_conn_probe_now(qp_conn *conn, uint64_t ts);

/* The current probe timeout (ns): closing and draining periods last three of them (RFC 9000 §10.2). */
QP_EXPORT uint64_t qp_conn_get_pto(qp_conn *conn);

/*
 * The peer certificate's SPKI SHA-256 (32 bytes) into out. Returns 1 if the peer presented a certificate,
 * else 0. Valid after the TLS layer saw the certificate, also when the pin did not match.
 */
QP_EXPORT int qp_conn_get_peer_spki_sha256(qp_conn *conn, uint8_t *out);

/*
 * A keying-material exporter value (RFC 5705 / RFC 8446 section 7.5, gnutls_prf_rfc5705, no context) of len bytes
 * under label: both ends of a connection compute the same bytes, nobody else can. Valid once the handshake has
 * completed. Returns 0, or a negative GnuTLS error code.
 */
QP_EXPORT int qp_conn_export_key(qp_conn *conn, const char *label, uint8_t *out, size_t len);

/* The TLS alert we sent or received (0 if none), and the peer's CONNECTION_CLOSE, if one arrived. */
QP_EXPORT int qp_conn_get_tls_alert(qp_conn *conn);
/* type: 0 none, 1 transport, 2 application (as ngtcp2_connection_close_error_code_type + 1). reason is
   copied (truncated) into reason_buf and NUL-terminated; returns the reason's length. */
QP_EXPORT size_t qp_conn_get_close_error(qp_conn *conn, int *type, uint64_t *code, char *reason_buf,
                                         size_t reason_cap);

/* The negotiated ALPN into buf; returns its length (0 if none). */
QP_EXPORT size_t qp_conn_get_alpn(qp_conn *conn, uint8_t *buf, size_t cap);

/* Opens a locally initiated bidirectional stream: returns its id (>= 0) or a negative error. */
QP_EXPORT int64_t qp_conn_open_bidi_stream(qp_conn *conn);

/*
 * Queues data on a stream (copied; sent by qp_conn_write_pkts, freed once acknowledged). fin != 0 ends the
 * stream after this data. Returns 0 or a negative error.
 */
QP_EXPORT int qp_conn_stream_write(qp_conn *conn, int64_t stream_id, const uint8_t *data, size_t len, int fin);

/* Bytes queued on the stream and not yet acknowledged (the caller's backpressure signal). */
QP_EXPORT uint64_t qp_conn_stream_unacked(qp_conn *conn, int64_t stream_id);

/*
 * Returns n bytes of receive credit once the application consumed them: to the stream's flow-control window
 * (stream_id >= 0) and always to the connection's (stream_id < 0: connection only, e.g. for bytes of a stream that
 * is gone). Received stream data takes credit until then, so the peer can send no more than the windows allow.
 */
QP_EXPORT int qp_conn_extend_credit(qp_conn *conn, int64_t stream_id, uint64_t n);

/*
 * Lets the peer open n more streams (MAX_STREAMS; bidi != 0: bidirectional, else unidirectional). ngtcp2 leaves
 * this to the caller for streams it reported (it credits streams reset before it created them by itself); the
 * caller grants a slot back once one of the peer's streams is closed and was accepted by the application.
 */
QP_EXPORT void qp_conn_extend_max_streams(qp_conn *conn, int bidi, uint64_t n);

/*
 * Aborts one or both directions of a stream with an application error code (directions: QP_SHUTDOWN_*). Aborting
 * the write side drops the data still queued on it.
 */
QP_EXPORT int qp_conn_stream_shutdown(qp_conn *conn, int64_t stream_id, uint64_t app_error_code,
                                      uint32_t directions);

/*
 * Largest DATAGRAM payload this connection may send now: bounded by the peer's max_datagram_frame_size (minus
 * the frame's type and length) and by what fits in one short-header packet on the current path. 0 when the peer
 * did not negotiate DATAGRAM frames (or before the handshake has its transport parameters).
 */
QP_EXPORT size_t qp_conn_max_datagram_payload(qp_conn *conn);

/*
 * Queues one DATAGRAM (copied); qp_conn_write_pkts sends queued DATAGRAMs before stream data. Unreliable: a lost
 * one is counted (qp_conn_stats.packets_lost) and never retransmitted. Returns 0, QP_ERR_DATAGRAM_TOO_LARGE or
 * QP_ERR_DATAGRAM_QUEUE_FULL.
 */
QP_EXPORT int qp_conn_send_datagram(qp_conn *conn, const uint8_t *data, size_t len);

/* DATAGRAMs queued by qp_conn_send_datagram and not yet written into a packet. */
QP_EXPORT size_t qp_conn_datagrams_queued(qp_conn *conn);

/*
 * Client only: moves the connection to the path (local, remote). validate != 0: ngtcp2_conn_initiate_migration,
 * which sends PATH_CHALLENGE on the new path with a spare CID of the peer's and switches only when the
 * PATH_RESPONSE arrives (qp_on_path_validation, then qp_on_path_changed); on failure it stays where it is.
 * validate == 0: ngtcp2_conn_initiate_immediate_migration, which switches at once and validates afterwards (for a
 * local socket that is already gone, or a path known to work); it also restarts congestion control, which matters
 * because ngtcp2 0.12 sends a PATH_CHALLENGE only when the current path's congestion window has room (or a PTO
 * fires), so a validating migration away from a dead, full path waits for the backed-off PTO. Returns 0, NGTCP2_ERR_INVALID_STATE (server, handshake not confirmed, peer
 * disabled migration), NGTCP2_ERR_CONN_ID_BLOCKED (no spare peer CID yet) or NGTCP2_ERR_INVALID_ARGUMENT.
 */
QP_EXPORT int qp_conn_migrate(qp_conn *conn, const uint8_t *local, uint32_t locallen, const uint8_t *remote,
                              uint32_t remotelen, int validate, uint64_t ts);

/*
 * The current path: its local and remote sockaddrs into local/remote (QP_ADDR_SIZE bytes each, zero-padded).
 * Returns 0 or QP_ERR_ARGUMENT.
 */
QP_EXPORT int qp_conn_get_path(qp_conn *conn, uint8_t *local, uint8_t *remote);

/*
 * The connection ID this side now sends to (the peer's, on the current path) into out (at least 20 bytes).
 * Returns its length (0 when there is none yet) or QP_ERR_ARGUMENT.
 */
QP_EXPORT int qp_conn_get_dcid(qp_conn *conn, uint8_t *out);

/* A static description of an error code (ngtcp2's or QP_ERR_*). */
QP_EXPORT const char *qp_strerror(int error);

/*
 * The versions of ngtcp2 and GnuTLS this process loaded (not the headers the shim was compiled with), as the
 * libraries report them: "0.12.1", "3.7.9". Static strings; NULL if a library does not say.
 */
QP_EXPORT const char *qp_ngtcp2_version(void);
QP_EXPORT const char *qp_gnutls_version(void);

#ifdef __cplusplus
}
#endif

#endif /* QUICPIPE_QUIC_H */
