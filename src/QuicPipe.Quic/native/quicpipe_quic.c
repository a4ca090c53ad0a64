/*
 * quicpipe_quic: see quicpipe_quic.h for the model and the API. The shim is split by concern; the pieces share
 * quicpipe_quic_internal.h (tunables, struct qp_conn and its parts, inline address and stream-cursor helpers):
 *   quicpipe_quic.c           this file: qp_init (the caller's callbacks) and ngtcp2's callbacks
 *   quicpipe_quic_tls.c       credentials, the GnuTLS session, the SPKI pin, ALPN, the key exporter
 *   quicpipe_quic_conn.c      connection create/delete, settings and transport parameters
 *   quicpipe_quic_initial.c   the cheap check of a client's first Initial, Retry tokens and packets
 *   quicpipe_quic_packet.c    read_pkt, write_pkts, write_close, expiry
 *   quicpipe_quic_stream.c    stream send buffers, stream writes, flow-control credit, shutdown
 *   quicpipe_quic_datagram.c  DATAGRAM (RFC 9221) size and send queue
 *   quicpipe_quic_path.c      migration and the current path (the same-socket "label")
 *   quicpipe_quic_stats.c     qp_conn_get_stats
 *   quicpipe_quic_error.c     the recorded error, close errors, qp_strerror
 *   quicpipe_quic_log.c       ngtcp2's trace (QUICPIPE_NGTCP2_LOG)
 * The build compiles every .c file in this folder into one libquicpipe_quic.so.
 */
#include "quicpipe_quic_internal.h"

#include <gnutls/crypto.h>

qp_callback_table qp_callbacks;

int qp_init(qp_on_handshake_completed on_handshake_completed, qp_on_stream_open on_stream_open,
            qp_on_stream_data on_stream_data, qp_on_stream_close on_stream_close, qp_on_stream_reset on_stream_reset,
            qp_on_stream_send_stopped on_stream_send_stopped, qp_on_new_cid on_new_cid, qp_on_remove_cid on_remove_cid,
            qp_on_datagram on_datagram, qp_on_path_validation on_path_validation, qp_on_path_changed on_path_changed)
{
    if (!on_handshake_completed || !on_stream_open || !on_stream_data || !on_stream_close || !on_stream_reset ||
        !on_stream_send_stopped || !on_new_cid || !on_remove_cid || !on_datagram || !on_path_validation ||
        !on_path_changed) {
        return QP_ERR_ARGUMENT;
    }
    qp_callbacks.path_validation = on_path_validation;
    qp_callbacks.path_changed = on_path_changed;
    qp_callbacks.handshake_completed = on_handshake_completed;
    qp_callbacks.stream_open = on_stream_open;
    qp_callbacks.stream_data = on_stream_data;
    qp_callbacks.stream_close = on_stream_close;
    qp_callbacks.stream_reset = on_stream_reset;
    qp_callbacks.stream_send_stopped = on_stream_send_stopped;
    qp_callbacks.new_cid = on_new_cid;
    qp_callbacks.remove_cid = on_remove_cid;
    qp_callbacks.datagram = on_datagram;
    return 0;
}

/* ---- ngtcp2 callbacks ---- */

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
    (void)conn;
    qp_conn *c = user_data;
    return qp_callbacks.handshake_completed(c->user) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
                               const uint8_t *data, size_t datalen, void *user_data, void *stream_user_data)
{
    (void)conn;
    (void)offset;
    (void)stream_user_data;
    qp_conn *c = user_data;
    if (qp_callbacks.stream_data(c->user, stream_id, data, datalen, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0)) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    /* No credit back yet: the caller returns it with qp_conn_extend_credit once its application consumed the
       bytes, so a slow reader stops the peer (receive backpressure). */
    return 0;
}

static int cb_stream_open(ngtcp2_conn *conn, int64_t stream_id, void *user_data)
{
    (void)conn;
    qp_conn *c = user_data;
    return qp_callbacks.stream_open(c->user, stream_id) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                           void *user_data, void *stream_user_data)
{
    (void)stream_user_data;
    qp_conn *c = user_data;
    c->packets_lost_closed += ngtcp2_conn_get_stream_loss_count(conn, stream_id);
    qp_stream_free(c, stream_id);
    uint32_t qp_flags = (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) ? QP_STREAM_CLOSE_APP_ERROR_SET : 0;
    return qp_callbacks.stream_close(c->user, stream_id, qp_flags, app_error_code) ? NGTCP2_ERR_CALLBACK_FAILURE
                                                                                    : 0;
}

static int cb_stream_reset(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size, uint64_t app_error_code,
                           void *user_data, void *stream_user_data)
{
    (void)conn;
    (void)final_size;
    (void)stream_user_data;
    qp_conn *c = user_data;
    return qp_callbacks.stream_reset(c->user, stream_id, app_error_code) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_acked_stream_data_offset(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
                                       void *user_data, void *stream_user_data)
{
    (void)conn;
    (void)stream_user_data;
    qp_stream *s = qp_stream_find(user_data, stream_id);
    if (!s) {
        return 0;
    }
    s->acked = offset + datalen;
    /* Free full chunks that are wholly acknowledged and no longer the one being sent from. */
    while (s->head && s->head != s->send_chunk && s->head->len == QP_CHUNK_SIZE &&
           s->head_offset + QP_CHUNK_SIZE <= s->acked) {
        qp_chunk *next = s->head->next;
        free(s->head);
        s->head = next;
        s->head_offset += QP_CHUNK_SIZE;
    }
    return 0;
}

static int cb_recv_datagram(ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen, void *user_data)
{
    (void)conn;
    (void)flags;
    qp_conn *c = user_data;
    return qp_callbacks.datagram(c->user, data, datalen) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_lost_datagram(ngtcp2_conn *conn, uint64_t dgram_id, void *user_data)
{
    (void)conn;
    (void)dgram_id;
    ((qp_conn *)user_data)->packets_lost_closed++;
    return 0;
}

static void cb_rand(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
    (void)rand_ctx;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, destlen);
}

static int cb_get_new_connection_id(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                                    void *user_data)
{
    (void)conn;
    qp_conn *c = user_data;
    if (cidlen > NGTCP2_MAX_CIDLEN || qp_callbacks.new_cid(c->user, cid->data, cidlen, token)) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    cid->datalen = cidlen;
    return 0;
}

static int cb_remove_connection_id(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
    (void)conn;
    qp_conn *c = user_data;
    return qp_callbacks.remove_cid(c->user, cid->data, cid->datalen) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_path_validation(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *user_data)
{
    (void)conn;
    (void)flags;
    qp_conn *c = user_data;
    c->migration_validating = 0;
    c->peer_moved_ts = 0;
    if (c->relabelled) {
        c->relabel_validated = 1;
    }
    int rv = qp_callbacks.path_validation(c->user, res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS,
                                          (const uint8_t *)path->local.addr, (uint32_t)path->local.addrlen,
                                          (const uint8_t *)path->remote.addr, (uint32_t)path->remote.addrlen);
    return rv ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

void qp_fill_callbacks(ngtcp2_callbacks *cb, int server)
{
    memset(cb, 0, sizeof(*cb));
    if (server) {
        cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
        cb->client_initial = ngtcp2_crypto_client_initial_cb;
        cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb->handshake_completed = cb_handshake_completed;
    cb->recv_stream_data = cb_recv_stream_data;
    cb->stream_open = cb_stream_open;
    cb->stream_close = cb_stream_close;
    cb->stream_reset = cb_stream_reset;
    cb->acked_stream_data_offset = cb_acked_stream_data_offset;
    cb->rand = cb_rand;
    cb->recv_datagram = cb_recv_datagram;
    cb->lost_datagram = cb_lost_datagram;
    cb->get_new_connection_id = cb_get_new_connection_id;
    cb->remove_connection_id = cb_remove_connection_id;
    cb->path_validation = cb_path_validation;
}
