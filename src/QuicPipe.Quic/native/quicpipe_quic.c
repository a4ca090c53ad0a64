/*
 * quicpipe_quic: see quicpipe_quic.h for the model. This file keeps three kinds of state per connection:
 * the ngtcp2 connection, its GnuTLS session (with the pinning verifier), and the unacknowledged stream data
 * the caller queued (ngtcp2 does not copy stream data: it must stay put until acknowledged).
 */
#include "quicpipe_quic.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

/* TLS 1.3 only, and no middlebox-compatibility mode: QUIC forbids its ChangeCipherSpec records. */
static const char qp_priority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                                  "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE";

/* Stream data is queued in fixed chunks that never move, because ngtcp2 keeps pointers into sent data. */
#define QP_CHUNK_SIZE (32 * 1024)

/* Flow-control windows we grant; ngtcp2 auto-tunes stream/connection windows up to the max_* settings. */
#define QP_INITIAL_STREAM_WINDOW (1024 * 1024)
#define QP_INITIAL_CONN_WINDOW (4 * 1024 * 1024)
#define QP_MAX_STREAM_WINDOW (16 * 1024 * 1024)
#define QP_MAX_CONN_WINDOW (32 * 1024 * 1024)
#define QP_MAX_STREAMS_BIDI 256
#define QP_ACTIVE_CID_LIMIT 4

typedef struct qp_chunk {
    struct qp_chunk *next;
    size_t len;
    uint8_t data[QP_CHUNK_SIZE];
} qp_chunk;

typedef struct qp_dgram {
    struct qp_dgram *next;
    size_t len;
    uint8_t data[];
} qp_dgram;

typedef struct qp_stream {
    struct qp_stream *next;
    int64_t id;
    qp_chunk *head;        /* oldest chunk still holding unacknowledged data */
    qp_chunk *tail;        /* chunk new data is appended to */
    uint64_t head_offset;  /* stream offset of head->data[0] */
    qp_chunk *send_chunk;  /* chunk holding the next byte to hand to ngtcp2 */
    size_t send_pos;       /* index of that byte in send_chunk */
    uint64_t queued;       /* stream offset after the last queued byte */
    uint64_t acked;        /* stream offset below which everything is acknowledged */
    int fin;               /* the caller ended the stream */
    int fin_sent;          /* the FIN went into a packet */
    int blocked;           /* flow control stopped it during the current qp_conn_write_pkts */
    int shut_wr;           /* we reset the write side ourselves (else a refusal to send means STOP_SENDING) */
} qp_stream;

struct qp_conn {
    ngtcp2_conn *conn;
    ngtcp2_crypto_conn_ref conn_ref; /* what ngtcp2's GnuTLS glue finds via gnutls_session_get_ptr */
    gnutls_session_t session;
    gnutls_certificate_credentials_t cred;    /* borrowed from the qp_creds */
    void *user;
    qp_stream *streams;
    qp_dgram *dgram_head; /* DATAGRAMs queued to send, oldest first */
    qp_dgram *dgram_tail;
    size_t dgram_count;
    ngtcp2_connection_close_error last_error; /* what to put in our CONNECTION_CLOSE after a failure */
    int has_error;
    int pin;                                  /* expected_hash is set */
    int pin_mismatch;
    int have_peer_hash;
    uint8_t expected_hash[QP_SPKI_HASH_SIZE];
    uint8_t peer_hash[QP_SPKI_HASH_SIZE];
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t packets_sent;
    uint64_t packets_received;
    uint64_t packets_lost_closed; /* stream loss counts of streams already closed, plus lost DATAGRAMs */
    uint8_t path_local[QP_ADDR_SIZE]; /* the current path as last reported through qp_on_path_changed */
    uint8_t path_remote[QP_ADDR_SIZE];
    /* A migration to a new remote over the same socket (see qp_conn_migrate): while it is validated, the old path's
       local address carries a stand-in (label), real_local is the socket's address and old_remote the old path's
       remote. */
    int relabelled;
    int relabel_validated; /* the validation ended (either way); the label goes at the next qp_check_path */
    uint8_t real_local[QP_ADDR_SIZE];
    uint32_t real_local_len;
    uint8_t label[QP_ADDR_SIZE];
    uint8_t old_remote[QP_ADDR_SIZE];
    /* old_remote names the path the last same-socket migration left (see qp_conn_read_pkt). Zeroed addresses would
       never match either, but the flag keeps the per-packet compares off connections that never moved. */
    int left_remote;
};

static struct {
    qp_on_handshake_completed handshake_completed;
    qp_on_stream_open stream_open;
    qp_on_stream_data stream_data;
    qp_on_stream_close stream_close;
    qp_on_stream_reset stream_reset;
    qp_on_stream_send_stopped stream_send_stopped;
    qp_on_new_cid new_cid;
    qp_on_remove_cid remove_cid;
    qp_on_datagram datagram;
    qp_on_path_validation path_validation;
    qp_on_path_changed path_changed;
} qp_callbacks;

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

/* ---- stream send buffers ---- */

static qp_stream *qp_stream_find(qp_conn *c, int64_t id)
{
    for (qp_stream *s = c->streams; s; s = s->next) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

static qp_stream *qp_stream_get(qp_conn *c, int64_t id)
{
    qp_stream *s = qp_stream_find(c, id);
    if (s) {
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->id = id;
    s->next = c->streams;
    c->streams = s;
    return s;
}

static void qp_stream_free(qp_conn *c, int64_t id)
{
    for (qp_stream **p = &c->streams; *p; p = &(*p)->next) {
        qp_stream *s = *p;
        if (s->id == id) {
            *p = s->next;
            while (s->head) {
                qp_chunk *next = s->head->next;
                free(s->head);
                s->head = next;
            }
            free(s);
            return;
        }
    }
}

/* The unsent bytes of the current send chunk; moves to the next chunk when this one is spent. */
static size_t qp_stream_pending(qp_stream *s, const uint8_t **data)
{
    while (s->send_chunk && s->send_pos == s->send_chunk->len && s->send_chunk->next) {
        s->send_chunk = s->send_chunk->next;
        s->send_pos = 0;
    }
    if (!s->send_chunk) {
        *data = NULL;
        return 0;
    }
    *data = s->send_chunk->data + s->send_pos;
    return s->send_chunk->len - s->send_pos;
}

/* True when the pending bytes are the stream's last ones, so a FIN may go with them. */
static int qp_stream_is_last(const qp_stream *s)
{
    return s->fin && (!s->send_chunk || !s->send_chunk->next);
}

static int qp_stream_has_work(qp_stream *s)
{
    const uint8_t *data;
    return !s->blocked && (qp_stream_pending(s, &data) > 0 || (s->fin && !s->fin_sent));
}

static void qp_stream_advance(qp_stream *s, ngtcp2_ssize datalen, int fin_requested)
{
    if (datalen < 0) {
        return;
    }
    s->send_pos += (size_t)datalen;
    const uint8_t *data;
    if (fin_requested && qp_stream_pending(s, &data) == 0) {
        s->fin_sent = 1;
    }
}

int qp_conn_stream_write(qp_conn *c, int64_t stream_id, const uint8_t *data, size_t len, int fin)
{
    if (!c || (len && !data)) {
        return QP_ERR_ARGUMENT;
    }
    qp_stream *s = qp_stream_get(c, stream_id);
    if (!s) {
        return NGTCP2_ERR_NOMEM;
    }
    if (s->fin) {
        return NGTCP2_ERR_STREAM_SHUT_WR;
    }
    while (len > 0) {
        if (!s->tail || s->tail->len == QP_CHUNK_SIZE) {
            qp_chunk *chunk = malloc(sizeof(*chunk));
            if (!chunk) {
                return NGTCP2_ERR_NOMEM;
            }
            chunk->next = NULL;
            chunk->len = 0;
            if (s->tail) {
                s->tail->next = chunk;
            } else {
                s->head = chunk;
                s->head_offset = s->queued;
                s->send_chunk = chunk;
                s->send_pos = 0;
            }
            s->tail = chunk;
        }
        size_t n = QP_CHUNK_SIZE - s->tail->len;
        if (n > len) {
            n = len;
        }
        memcpy(s->tail->data + s->tail->len, data, n);
        s->tail->len += n;
        s->queued += n;
        data += n;
        len -= n;
    }
    if (fin) {
        s->fin = 1;
    }
    return 0;
}

uint64_t qp_conn_stream_unacked(qp_conn *c, int64_t stream_id)
{
    qp_stream *s = c ? qp_stream_find(c, stream_id) : NULL;
    return s ? s->queued - s->acked : 0;
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
    if (c->relabelled) {
        c->relabel_validated = 1;
    }
    int rv = qp_callbacks.path_validation(c->user, res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS,
                                          (const uint8_t *)path->local.addr, (uint32_t)path->local.addrlen,
                                          (const uint8_t *)path->remote.addr, (uint32_t)path->remote.addrlen);
    return rv ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static void qp_fill_callbacks(ngtcp2_callbacks *cb, int server)
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

static void qp_copy_addr(uint8_t *dest, const ngtcp2_addr *addr);

/* ---- TLS: credentials, ALPN and the SPKI pin ---- */

static ngtcp2_conn *qp_get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((qp_conn *)ref->user_data)->conn;
}

/*
 * Runs when the peer's Certificate arrives. No CA is involved: the peer is who we expect iff the SHA-256 of
 * its leaf certificate's SubjectPublicKeyInfo equals the pin (TLS CertificateVerify proves it holds the key).
 */
static int qp_verify_peer(gnutls_session_t session)
{
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
    qp_conn *c = ref->user_data;
    unsigned int count = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &count);
    if (!certs || count == 0) {
        return c->pin ? -1 : 0;
    }

    gnutls_pubkey_t key;
    if (gnutls_pubkey_init(&key) < 0) {
        return -1;
    }
    gnutls_datum_t spki = {NULL, 0};
    int rv = gnutls_pubkey_import_x509_raw(key, &certs[0], GNUTLS_X509_FMT_DER, 0);
    if (rv >= 0) {
        rv = gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki);
    }
    gnutls_pubkey_deinit(key);
    if (rv < 0) {
        return -1;
    }
    rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, c->peer_hash);
    gnutls_free(spki.data);
    if (rv < 0) {
        return -1;
    }
    c->have_peer_hash = 1;
    if (c->pin && memcmp(c->peer_hash, c->expected_hash, QP_SPKI_HASH_SIZE) != 0) {
        c->pin_mismatch = 1;
        return -1;
    }
    return 0;
}

struct qp_creds {
    gnutls_certificate_credentials_t cred;
};

qp_creds *qp_creds_new(const char *cert_pem, const char *key_pem, int *error)
{
    int ignored;
    error = error ? error : &ignored;
    if (!cert_pem || !key_pem) {
        *error = QP_ERR_ARGUMENT;
        return NULL;
    }
    qp_creds *creds = calloc(1, sizeof(*creds));
    if (!creds) {
        *error = NGTCP2_ERR_NOMEM;
        return NULL;
    }
    if (gnutls_certificate_allocate_credentials(&creds->cred) < 0) {
        free(creds);
        *error = QP_ERR_TLS_SETUP;
        return NULL;
    }
    gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned int)strlen(cert_pem)};
    gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned int)strlen(key_pem)};
    if (gnutls_certificate_set_x509_key_mem2(creds->cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
        qp_creds_del(creds);
        *error = QP_ERR_ARGUMENT;
        return NULL;
    }
    return creds;
}

void qp_creds_del(qp_creds *creds)
{
    if (!creds) {
        return;
    }
    gnutls_certificate_free_credentials(creds->cred);
    free(creds);
}

static int qp_tls_setup(qp_conn *c, int server, qp_creds *creds, const uint8_t *alpn, size_t alpnlen)
{
    c->cred = creds->cred;
    unsigned int flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA;
    if (gnutls_init(&c->session, flags) < 0) {
        return QP_ERR_TLS_SETUP;
    }
    int rv = server ? ngtcp2_crypto_gnutls_configure_server_session(c->session)
                    : ngtcp2_crypto_gnutls_configure_client_session(c->session);
    if (rv != 0 || gnutls_priority_set_direct(c->session, qp_priority, NULL) < 0 ||
        gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->cred) < 0) {
        return QP_ERR_TLS_SETUP;
    }
    if (server) {
        /* Mutual authentication: with a pin the client must present the certificate whose key we pinned;
           without one (any client allowed) a certificate is asked for but optional. */
        gnutls_certificate_server_set_request(c->session, c->pin ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
    }
    gnutls_session_set_verify_function(c->session, qp_verify_peer);
    gnutls_datum_t proto = {(unsigned char *)alpn, (unsigned int)alpnlen};
    if (gnutls_alpn_set_protocols(c->session, &proto, 1, server ? GNUTLS_ALPN_MANDATORY : 0) < 0) {
        return QP_ERR_TLS_SETUP;
    }
    c->conn_ref.get_conn = qp_get_conn;
    c->conn_ref.user_data = c;
    gnutls_session_set_ptr(c->session, &c->conn_ref);
    return 0;
}

/* ---- connection life ---- */

static qp_conn *qp_conn_alloc(qp_creds *creds, const uint8_t *alpn, size_t alpnlen, const uint8_t *expected,
                              void *user, int server, int *error)
{
    if (!creds || !alpn || alpnlen == 0 || alpnlen > 255) {
        *error = QP_ERR_ARGUMENT;
        return NULL;
    }
    qp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        *error = NGTCP2_ERR_NOMEM;
        return NULL;
    }
    c->user = user;
    if (expected) {
        c->pin = 1;
        memcpy(c->expected_hash, expected, QP_SPKI_HASH_SIZE);
    }
    int rv = qp_tls_setup(c, server, creds, alpn, alpnlen);
    if (rv != 0) {
        qp_conn_del(c);
        *error = rv;
        return NULL;
    }
    return c;
}

size_t qp_conn_config_size(void)
{
    return sizeof(qp_conn_config);
}

static uint64_t qp_or(uint64_t value, uint64_t fallback)
{
    return value ? value : fallback;
}

/*
 * ngtcp2's own trace (every frame sent and received, loss detection, path validation), for diagnosis only: it
 * writes several lines per packet. Off unless the environment variable QUICPIPE_NGTCP2_LOG is set: "-" writes to
 * stderr, anything else is a path prefix and the trace goes to PREFIX.PID. Each line starts with the connection's
 * pointer, then ngtcp2's own timestamp (ms since the connection started).
 */
static FILE *qp_log_file;

static void qp_log_printf(void *user_data, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char line[512];
    vsnprintf(line, sizeof(line), format, ap);
    va_end(ap);
    fprintf(qp_log_file, "%p %s\n", user_data, line);
}

static pthread_once_t qp_log_once = PTHREAD_ONCE_INIT;

static void qp_log_open(void)
{
    const char *value = getenv("QUICPIPE_NGTCP2_LOG");
    if (!value || !value[0]) {
        return;
    }
    if (strcmp(value, "-") == 0) {
        qp_log_file = stderr;
        return;
    }
    char name[4096];
    snprintf(name, sizeof(name), "%s.%ld", value, (long)getpid());
    qp_log_file = fopen(name, "a");
    if (qp_log_file) {
        setvbuf(qp_log_file, NULL, _IOLBF, 0); /* whole lines survive a killed process */
    }
}

/* Endpoints create connections on their own loop threads: the first one opens the trace for all. */
static int qp_log_enabled(void)
{
    pthread_once(&qp_log_once, qp_log_open);
    return qp_log_file != NULL;
}

static void qp_settings(ngtcp2_settings *settings, ngtcp2_transport_params *params, const qp_conn_config *config,
                        uint64_t ts)
{
    uint64_t stream_window = qp_or(config->stream_window, QP_INITIAL_STREAM_WINDOW);
    uint64_t conn_window = qp_or(config->conn_window, QP_INITIAL_CONN_WINDOW);
    ngtcp2_settings_default(settings);
    settings->initial_ts = ts;
    settings->max_window = qp_or(config->max_conn_window, QP_MAX_CONN_WINDOW);
    settings->max_stream_window = qp_or(config->max_stream_window, QP_MAX_STREAM_WINDOW);
    settings->handshake_timeout = config->handshake_timeout_ns ? config->handshake_timeout_ns : UINT64_MAX;
    if (qp_log_enabled()) {
        settings->log_printf = qp_log_printf;
    }
    ngtcp2_transport_params_default(params);
    params->initial_max_stream_data_bidi_local = stream_window;
    params->initial_max_stream_data_bidi_remote = stream_window;
    params->initial_max_stream_data_uni = stream_window;
    params->initial_max_data = conn_window;
    params->initial_max_streams_bidi = QP_MAX_STREAMS_BIDI;
    params->initial_max_streams_uni = 3;
    params->max_idle_timeout = config->idle_timeout_ns;
    params->max_datagram_frame_size = config->max_datagram_frame_size;
    /* Spare CIDs for the peer: a migration takes an unused one, and a failed validation retires the one it used,
       so more than the default 2 lets a migration be retried while the replacement is still on its way. */
    params->active_connection_id_limit = QP_ACTIVE_CID_LIMIT;
}

static ngtcp2_path qp_path(const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen)
{
    ngtcp2_path path;
    memset(&path, 0, sizeof(path));
    path.local.addr = (ngtcp2_sockaddr *)local;
    path.local.addrlen = locallen;
    path.remote.addr = (ngtcp2_sockaddr *)remote;
    path.remote.addrlen = remotelen;
    return path;
}

static int qp_addr_ok(const uint8_t *addr, uint32_t len)
{
    return addr && len >= 16 && len <= QP_ADDR_SIZE;
}

/* The common end of client and server creation: on failure free the half-built connection and report
 * ngtcp2's error; on success hand ngtcp2 the TLS session and apply the per-connection settings. */
static qp_conn *qp_conn_finish(qp_conn *c, int rv, const qp_conn_config *config, int *error)
{
    if (rv != 0) {
        c->conn = NULL;
        qp_conn_del(c);
        *error = rv;
        return NULL;
    }
    ngtcp2_conn_set_tls_native_handle(c->conn, c->session);
    /* The starting path is no change: only later moves are reported (qp_check_path). */
    const ngtcp2_path *path = ngtcp2_conn_get_path(c->conn);
    qp_copy_addr(c->path_local, &path->local);
    qp_copy_addr(c->path_remote, &path->remote);
    if (config->keep_alive_ns) {
        ngtcp2_conn_set_keep_alive_timeout(c->conn, config->keep_alive_ns);
    }
    return c;
}

qp_conn *qp_conn_client_new(const uint8_t *dcid, size_t dcidlen, const uint8_t *scid, size_t scidlen,
                            const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen,
                            qp_creds *creds, const uint8_t *alpn, size_t alpnlen,
                            const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config, uint64_t ts,
                            void *user, int *error)
{
    int ignored;
    error = error ? error : &ignored;
    if (!config || !dcid || dcidlen < 8 || dcidlen > NGTCP2_MAX_CIDLEN || !scid || scidlen > NGTCP2_MAX_CIDLEN ||
        !qp_addr_ok(local, locallen) || !qp_addr_ok(remote, remotelen)) {
        *error = QP_ERR_ARGUMENT;
        return NULL;
    }
    qp_conn *c = qp_conn_alloc(creds, alpn, alpnlen, expected_peer_spki_sha256, user, 0, error);
    if (!c) {
        return NULL;
    }
    ngtcp2_cid d, s;
    ngtcp2_cid_init(&d, dcid, dcidlen);
    ngtcp2_cid_init(&s, scid, scidlen);
    ngtcp2_callbacks callbacks;
    qp_fill_callbacks(&callbacks, 0);
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    qp_settings(&settings, &params, config, ts);
    ngtcp2_path path = qp_path(local, locallen, remote, remotelen);
    int rv = ngtcp2_conn_client_new(&c->conn, &d, &s, &path, NGTCP2_PROTO_VER_V1, &callbacks, &settings, &params,
                                    NULL, c);
    return qp_conn_finish(c, rv, config, error);
}

qp_conn *qp_conn_server_new(const uint8_t *pkt, size_t pktlen, const uint8_t *scid, size_t scidlen,
                            const uint8_t *reset_token, const uint8_t *local, uint32_t locallen,
                            const uint8_t *remote, uint32_t remotelen, qp_creds *creds, const uint8_t *alpn,
                            size_t alpnlen, const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config,
                            uint64_t ts, void *user, int *error)
{
    int ignored;
    error = error ? error : &ignored;
    if (!config || !pkt || !scid || scidlen == 0 || scidlen > NGTCP2_MAX_CIDLEN || !reset_token ||
        !qp_addr_ok(local, locallen) || !qp_addr_ok(remote, remotelen)) {
        *error = QP_ERR_ARGUMENT;
        return NULL;
    }
    ngtcp2_pkt_hd hd;
    int rv = ngtcp2_accept(&hd, pkt, pktlen);
    if (rv != 0) {
        *error = rv;
        return NULL;
    }
    qp_conn *c = qp_conn_alloc(creds, alpn, alpnlen, expected_peer_spki_sha256, user, 1, error);
    if (!c) {
        return NULL;
    }
    ngtcp2_cid s;
    ngtcp2_cid_init(&s, scid, scidlen);
    ngtcp2_callbacks callbacks;
    qp_fill_callbacks(&callbacks, 1);
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    qp_settings(&settings, &params, config, ts);
    params.original_dcid = hd.dcid;
    params.stateless_reset_token_present = 1;
    memcpy(params.stateless_reset_token, reset_token, QP_STATELESS_RESET_TOKEN_SIZE);
    ngtcp2_path path = qp_path(local, locallen, remote, remotelen);
    rv = ngtcp2_conn_server_new(&c->conn, &hd.scid, &s, &path, hd.version, &callbacks, &settings, &params, NULL,
                                c);
    return qp_conn_finish(c, rv, config, error);
}

void qp_conn_del(qp_conn *c)
{
    if (!c) {
        return;
    }
    while (c->streams) {
        qp_stream_free(c, c->streams->id);
    }
    while (c->dgram_head) {
        qp_dgram *next = c->dgram_head->next;
        free(c->dgram_head);
        c->dgram_head = next;
    }
    if (c->conn) {
        ngtcp2_conn_del(c->conn);
    }
    if (c->session) {
        gnutls_deinit(c->session);
    }
    free(c);
}

static void qp_copy_addr(uint8_t *dest, const ngtcp2_addr *addr)
{
    size_t n = addr->addrlen < QP_ADDR_SIZE ? addr->addrlen : QP_ADDR_SIZE;
    memset(dest, 0, QP_ADDR_SIZE);
    memcpy(dest, addr->addr, n);
}

/* The sockaddr length of a zero-padded address as stored by qp_copy_addr (by its family). */
static uint32_t qp_addr_len(const uint8_t *addr)
{
    const ngtcp2_sockaddr *sa = (const ngtcp2_sockaddr *)addr;
    return sa->sa_family == NGTCP2_AF_INET6 ? (uint32_t)sizeof(ngtcp2_sockaddr_in6)
                                            : (uint32_t)sizeof(ngtcp2_sockaddr_in);
}

/* Same family, port and IP address (and IPv6 scope); IPv6 flow info is ignored. */
static int qp_addr_same(const uint8_t *a, const uint8_t *b)
{
    const ngtcp2_sockaddr *sa = (const ngtcp2_sockaddr *)a;
    if (sa->sa_family == NGTCP2_AF_INET) {
        return memcmp(a, b, 8) == 0;
    }
    return memcmp(a, b, 4) == 0 && memcmp(a + 8, b + 8, QP_ADDR_SIZE - 8) == 0;
}

/* After a validation that ran under a label: drop the label, putting the socket's address back on the current
   path if the connection is still on the old one (the validation failed). */
static void qp_finish_relabel(qp_conn *c)
{
    if (!c->relabelled || !c->relabel_validated) {
        return;
    }
    uint8_t local[QP_ADDR_SIZE];
    qp_copy_addr(local, &ngtcp2_conn_get_path(c->conn)->local);
    if (qp_addr_same(local, c->label)) {
        ngtcp2_addr real;
        ngtcp2_addr_init(&real, (const ngtcp2_sockaddr *)c->real_local, c->real_local_len);
        ngtcp2_conn_set_local_addr(c->conn, &real);
    }
    c->relabelled = 0;
}

/*
 * Reports a change of the current path (ngtcp2 has no callback for it: a server follows a migrating or rebound
 * client inside read_pkt, and falls back after a failed validation inside handle_expiry). Cheap: two 28-byte
 * compares per call. Returns non-zero if the caller's callback failed.
 */
static int qp_check_path(qp_conn *c)
{
    qp_finish_relabel(c);
    const ngtcp2_path *path = ngtcp2_conn_get_path(c->conn);
    uint8_t local[QP_ADDR_SIZE], remote[QP_ADDR_SIZE];
    qp_copy_addr(local, &path->local);
    qp_copy_addr(remote, &path->remote);
    if (c->relabelled && qp_addr_same(local, c->label)) {
        memcpy(local, c->real_local, QP_ADDR_SIZE); /* the label is ours alone: the caller never sees it */
    }
    if (memcmp(local, c->path_local, QP_ADDR_SIZE) == 0 && memcmp(remote, c->path_remote, QP_ADDR_SIZE) == 0) {
        return 0;
    }
    memcpy(c->path_local, local, QP_ADDR_SIZE);
    memcpy(c->path_remote, remote, QP_ADDR_SIZE);
    return qp_callbacks.path_changed(c->user, local, qp_addr_len(local), remote, qp_addr_len(remote));
}

/* Remembers the first failure, to report it to the peer in our CONNECTION_CLOSE. */
static void qp_record_error(qp_conn *c, int rv)
{
    if (c->has_error) {
        return;
    }
    c->has_error = 1;
    if (rv == NGTCP2_ERR_CRYPTO) {
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&c->last_error, ngtcp2_conn_get_tls_alert(c->conn),
                                                                    NULL, 0);
    } else {
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->last_error, rv, NULL, 0);
    }
}

int qp_conn_read_pkt(qp_conn *c, const uint8_t *local, uint32_t locallen, const uint8_t *remote,
                     uint32_t remotelen, const uint8_t *pkt, size_t pktlen, uint64_t ts)
{
    if (!c || !pkt || !qp_addr_ok(local, locallen) || !qp_addr_ok(remote, remotelen)) {
        return QP_ERR_ARGUMENT;
    }
    ngtcp2_path path = qp_path(local, locallen, remote, remotelen);
    uint8_t current_local[QP_ADDR_SIZE], current_remote[QP_ADDR_SIZE];
    if (c->left_remote) {
        uint8_t in_local[QP_ADDR_SIZE], in_remote[QP_ADDR_SIZE];
        ngtcp2_addr a = {.addr = (ngtcp2_sockaddr *)local, .addrlen = locallen};
        ngtcp2_addr b = {.addr = (ngtcp2_sockaddr *)remote, .addrlen = remotelen};
        qp_copy_addr(in_local, &a);
        qp_copy_addr(in_remote, &b);
        if (qp_addr_same(in_local, c->real_local) && qp_addr_same(in_remote, c->old_remote)) {
            if (c->relabelled) {
                /* During a same-socket migration, what arrives from the old remote belongs to the labelled old
                   path. */
                path.local.addr = (ngtcp2_sockaddr *)c->label;
            } else {
                const ngtcp2_path *current = ngtcp2_conn_get_path(c->conn);
                qp_copy_addr(current_local, &current->local);
                qp_copy_addr(current_remote, &current->remote);
                if (!qp_addr_same(current_remote, c->old_remote)) {
                    /*
                     * After the move, ngtcp2 (a client) ignores packets from the path it left. But the server checks
                     * that path once it has followed us, and until the check ends it will not follow us back there
                     * (a fallback to the relay): ignored, the check lasts its whole backed-off timeout, seconds.
                     * Filed under the current path, its PATH_CHALLENGE is answered there (RFC 9000 8.2.2: a
                     * response on any path validates the path the challenge went out on), and data still in flight
                     * on the old path counts instead of being sent again.
                     */
                    path = qp_path(current_local, qp_addr_len(current_local), current_remote,
                                   qp_addr_len(current_remote));
                }
            }
        }
    }
    ngtcp2_pkt_info pi;
    memset(&pi, 0, sizeof(pi));
    c->packets_received++;
    c->bytes_received += pktlen;
    int rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, pktlen, ts);
    if (rv != 0) {
        qp_record_error(c, rv);
        if (c->pin_mismatch) {
            return QP_ERR_PIN_MISMATCH;
        }
        return rv;
    }
    if (qp_check_path(c)) {
        qp_record_error(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static qp_stream *qp_next_stream(qp_conn *c)
{
    for (qp_stream *s = c->streams; s; s = s->next) {
        if (qp_stream_has_work(s)) {
            return s;
        }
    }
    return NULL;
}

int qp_conn_write_pkts(qp_conn *c, uint8_t *slots, size_t slot_size, size_t max_pkts, int32_t *lengths,
                       uint8_t *remote_addrs, uint64_t ts)
{
    if (!c || !slots || !lengths || !remote_addrs || slot_size < NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE) {
        return QP_ERR_ARGUMENT;
    }
    /* Never more than the congestion controller's send quantum in one go. */
    size_t quantum = ngtcp2_conn_get_send_quantum(c->conn) / ngtcp2_conn_get_max_tx_udp_payload_size(c->conn);
    if (quantum == 0) {
        quantum = 1;
    }
    if (max_pkts > quantum) {
        max_pkts = quantum;
    }
    for (qp_stream *s = c->streams; s; s = s->next) {
        s->blocked = 0;
    }

    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    size_t count = 0;
    while (count < max_pkts) {
        uint8_t *dest = slots + count * slot_size;
        if (c->dgram_head) {
            /* DATAGRAMs first: they are small, latency-sensitive, and never wait for flow control. */
            qp_dgram *d = c->dgram_head;
            ngtcp2_vec v = {d->data, d->len};
            int accepted = 0;
            ngtcp2_pkt_info dpi;
            ngtcp2_ssize n = ngtcp2_conn_writev_datagram(c->conn, &ps.path, &dpi, dest, slot_size, &accepted,
                                                         NGTCP2_WRITE_DATAGRAM_FLAG_MORE, 0, &v, 1, ts);
            if (accepted || n == NGTCP2_ERR_INVALID_ARGUMENT || n == NGTCP2_ERR_INVALID_STATE) {
                /* Sent, or can never be (too large for the peer, or it does not take DATAGRAMs): off the queue. */
                c->dgram_head = d->next;
                if (!c->dgram_head) {
                    c->dgram_tail = NULL;
                }
                c->dgram_count--;
                free(d);
            }
            if (n == NGTCP2_ERR_WRITE_MORE || n == NGTCP2_ERR_INVALID_ARGUMENT || n == NGTCP2_ERR_INVALID_STATE) {
                continue;
            }
            if (n < 0) {
                qp_record_error(c, (int)n);
                return (int)n;
            }
            if (n == 0) {
                break;
            }
            lengths[count] = (int32_t)n;
            c->packets_sent++;
            c->bytes_sent += (uint64_t)n;
            qp_copy_addr(remote_addrs + count * QP_ADDR_SIZE, &ps.path.remote);
            count++;
            continue;
        }
        qp_stream *s = qp_next_stream(c);
        int64_t stream_id = -1;
        const uint8_t *data = NULL;
        size_t datalen = 0;
        /* MORE only with a stream: without one, ngtcp2 must close the packet, else this would loop. */
        uint32_t flags = s ? NGTCP2_WRITE_STREAM_FLAG_MORE : NGTCP2_WRITE_STREAM_FLAG_NONE;
        int fin = 0;
        if (s) {
            stream_id = s->id;
            datalen = qp_stream_pending(s, &data);
            if (qp_stream_is_last(s)) {
                flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
                fin = 1;
            }
        }
        ngtcp2_ssize written = -1;
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_write_stream(c->conn, &ps.path, &pi, dest, slot_size, &written, flags,
                                                  stream_id, data, datalen, ts);
        if (n == NGTCP2_ERR_WRITE_MORE && s) {
            /* Room left in the packet: the stream gave what it could; fill the rest from other streams. */
            qp_stream_advance(s, written, fin);
            if ((size_t)written < datalen) {
                s->blocked = 1;
            }
            continue;
        }
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED && s) {
            s->blocked = 1;
            continue;
        }
        if ((n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) && s) {
            /* The stream is gone (reset or closed): its queued data can never be sent. Unless we reset it, the
               peer's STOP_SENDING did (ngtcp2 reports that frame no other way). */
            int stopped = n == NGTCP2_ERR_STREAM_SHUT_WR && !s->shut_wr;
            qp_stream_free(c, stream_id);
            if (stopped && qp_callbacks.stream_send_stopped(c->user, stream_id)) {
                qp_record_error(c, NGTCP2_ERR_CALLBACK_FAILURE);
                return NGTCP2_ERR_CALLBACK_FAILURE;
            }
            continue;
        }
        if (n < 0) {
            qp_record_error(c, (int)n);
            return (int)n;
        }
        if (n == 0) {
            break;
        }
        if (s) {
            qp_stream_advance(s, written, fin);
        }
        lengths[count] = (int32_t)n;
        c->packets_sent++;
        c->bytes_sent += (uint64_t)n;
        qp_copy_addr(remote_addrs + count * QP_ADDR_SIZE, &ps.path.remote);
        count++;
    }
    ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
    if (qp_check_path(c)) {
        qp_record_error(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return (int)count;
}

int qp_conn_write_close(qp_conn *c, uint8_t *buf, size_t buflen, uint8_t *remote_addr, uint64_t app_error_code,
                        const uint8_t *reason, size_t reasonlen, uint64_t ts)
{
    if (!c || !buf || !remote_addr || (reasonlen && !reason)) {
        return QP_ERR_ARGUMENT;
    }
    if (ngtcp2_conn_is_in_draining_period(c->conn)) {
        return 0;
    }
    ngtcp2_connection_close_error ccerr;
    if (c->has_error) {
        ccerr = c->last_error;
    } else {
        ngtcp2_connection_close_error_set_application_error(&ccerr, app_error_code, reasonlen ? reason : NULL,
                                                            reasonlen);
    }
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi;
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, buf, buflen, &ccerr, ts);
    if (n > 0) {
        qp_copy_addr(remote_addr, &ps.path.remote);
        c->packets_sent++;
        c->bytes_sent += (uint64_t)n;
    }
    return (int)n;
}

uint64_t qp_conn_get_expiry(qp_conn *c)
{
    return ngtcp2_conn_get_expiry(c->conn);
}

int qp_conn_handle_expiry(qp_conn *c, uint64_t ts)
{
    int rv = ngtcp2_conn_handle_expiry(c->conn, ts);
    if (rv != 0) {
        qp_record_error(c, rv);
        return rv;
    }
    if (qp_check_path(c)) {
        qp_record_error(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

int qp_conn_migrate(qp_conn *c, const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen,
                    int validate, uint64_t ts)
{
    if (!c || !qp_addr_ok(local, locallen) || !qp_addr_ok(remote, remotelen)) {
        return QP_ERR_ARGUMENT;
    }
    ngtcp2_path path = qp_path(local, locallen, remote, remotelen);
    uint8_t new_local[QP_ADDR_SIZE];
    ngtcp2_addr a = {.addr = (ngtcp2_sockaddr *)local, .addrlen = locallen};
    qp_copy_addr(new_local, &a);
    int same_socket = qp_addr_same(new_local, c->path_local);
    if (same_socket && c->relabelled) {
        return NGTCP2_ERR_INVALID_STATE; /* one same-socket migration at a time */
    }
    if (same_socket) {
        /*
         * ngtcp2 0.12 names paths by (local, remote) and refuses a migration that keeps the local address, yet a
         * move from a relay to the peer's direct address keeps the socket and changes only the remote. So the
         * current path's local address is renamed to a label (the same address with another port: a name for the
         * old path while the new one is validated, never sent anywhere), read_pkt files what comes from the old
         * remote under it, and qp_finish_relabel removes it when the validation has ended. An immediate migration
         * needs the same: it leaves the old path at once, but ngtcp2's check is the same.
         */
        memcpy(c->real_local, new_local, QP_ADDR_SIZE);
        qp_copy_addr(c->old_remote, &ngtcp2_conn_get_path(c->conn)->remote);
        c->real_local_len = locallen;
        memcpy(c->label, new_local, QP_ADDR_SIZE);
        c->label[3] ^= 1; /* low bit of the port (network byte order) */
        ngtcp2_addr label;
        ngtcp2_addr_init(&label, (const ngtcp2_sockaddr *)c->label, locallen);
        ngtcp2_conn_set_local_addr(c->conn, &label);
        c->relabelled = 1;
        c->relabel_validated = 0;
        c->left_remote = 1;
    }
    int rv = validate ? ngtcp2_conn_initiate_migration(c->conn, &path, ts)
                      : ngtcp2_conn_initiate_immediate_migration(c->conn, &path, ts);
    if (rv != 0) {
        if (c->relabelled) {
            c->relabel_validated = 1;
            qp_finish_relabel(c);
        }
        return rv;
    }
    if (qp_check_path(c)) {
        qp_record_error(c, NGTCP2_ERR_CALLBACK_FAILURE);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

int qp_conn_get_path(qp_conn *c, uint8_t *local, uint8_t *remote)
{
    if (!c || !local || !remote) {
        return QP_ERR_ARGUMENT;
    }
    const ngtcp2_path *path = ngtcp2_conn_get_path(c->conn);
    qp_copy_addr(local, &path->local);
    qp_copy_addr(remote, &path->remote);
    return 0;
}

uint64_t qp_conn_get_pto(qp_conn *c)
{
    return ngtcp2_conn_get_pto(c->conn);
}

int qp_conn_get_peer_spki_sha256(qp_conn *c, uint8_t *out)
{
    if (!c->have_peer_hash) {
        return 0;
    }
    memcpy(out, c->peer_hash, QP_SPKI_HASH_SIZE);
    return 1;
}

int qp_conn_export_key(qp_conn *c, const char *label, uint8_t *out, size_t len)
{
    if (!c || !label || !out || !ngtcp2_conn_get_handshake_completed(c->conn)) {
        return GNUTLS_E_INVALID_REQUEST;
    }
    return gnutls_prf_rfc5705(c->session, strlen(label), label, 0, NULL, len, (char *)out);
}

int qp_conn_get_tls_alert(qp_conn *c)
{
    return ngtcp2_conn_get_tls_alert(c->conn);
}

size_t qp_conn_get_close_error(qp_conn *c, int *type, uint64_t *code, char *reason_buf, size_t reason_cap)
{
    ngtcp2_connection_close_error ccerr;
    ngtcp2_connection_close_error_default(&ccerr);
    ngtcp2_conn_get_connection_close_error(c->conn, &ccerr);
    *type = (int)ccerr.type;
    *code = ccerr.error_code;
    size_t n = 0;
    if (reason_buf && reason_cap > 0) {
        n = ccerr.reasonlen < reason_cap - 1 ? ccerr.reasonlen : reason_cap - 1;
        if (n) {
            memcpy(reason_buf, ccerr.reason, n);
        }
        reason_buf[n] = '\0';
    }
    return n;
}

size_t qp_conn_get_alpn(qp_conn *c, uint8_t *buf, size_t cap)
{
    gnutls_datum_t proto;
    if (gnutls_alpn_get_selected_protocol(c->session, &proto) < 0) {
        return 0;
    }
    size_t n = proto.size < cap ? proto.size : cap;
    memcpy(buf, proto.data, n);
    return n;
}

int64_t qp_conn_open_bidi_stream(qp_conn *c)
{
    int64_t id = -1;
    int rv = ngtcp2_conn_open_bidi_stream(c->conn, &id, NULL);
    if (rv != 0) {
        return rv;
    }
    if (!qp_stream_get(c, id)) {
        return NGTCP2_ERR_NOMEM;
    }
    return id;
}

int qp_conn_extend_credit(qp_conn *c, int64_t stream_id, uint64_t n)
{
    if (!c || n == 0) {
        return 0;
    }
    if (stream_id >= 0) {
        int rv = ngtcp2_conn_extend_max_stream_offset(c->conn, stream_id, n);
        if (rv != 0) {
            return rv;
        }
    }
    ngtcp2_conn_extend_max_offset(c->conn, n);
    return 0;
}

void qp_conn_extend_max_streams(qp_conn *c, int bidi, uint64_t n)
{
    if (!c || n == 0) {
        return;
    }
    if (bidi) {
        ngtcp2_conn_extend_max_streams_bidi(c->conn, n);
    } else {
        ngtcp2_conn_extend_max_streams_uni(c->conn, n);
    }
}

int qp_conn_stream_shutdown(qp_conn *c, int64_t stream_id, uint64_t app_error_code, uint32_t directions)
{
    if (!c || !(directions & (QP_SHUTDOWN_READ | QP_SHUTDOWN_WRITE))) {
        return QP_ERR_ARGUMENT;
    }
    if (directions & QP_SHUTDOWN_READ) {
        int rv = ngtcp2_conn_shutdown_stream_read(c->conn, stream_id, app_error_code);
        if (rv != 0) {
            return rv;
        }
    }
    if (directions & QP_SHUTDOWN_WRITE) {
        int rv = ngtcp2_conn_shutdown_stream_write(c->conn, stream_id, app_error_code);
        if (rv != 0) {
            return rv;
        }
        /* ngtcp2 dropped every reference to the unacknowledged data: the queue can go. */
        qp_stream *s = qp_stream_find(c, stream_id);
        if (s) {
            while (s->head) {
                qp_chunk *next = s->head->next;
                free(s->head);
                s->head = next;
            }
            s->tail = s->send_chunk = NULL;
            s->send_pos = 0;
            s->acked = s->queued;
            s->fin = 1;
            s->fin_sent = 1;
            s->shut_wr = 1;
        }
    }
    return 0;
}

size_t qp_conn_max_datagram_payload(qp_conn *c)
{
    if (!c || !ngtcp2_conn_get_handshake_completed(c->conn)) {
        return 0;
    }
    const ngtcp2_transport_params *peer = ngtcp2_conn_get_remote_transport_params(c->conn);
    /* A DATAGRAM frame is a type byte, a length varint (2 bytes below 16384) and the payload. */
    if (!peer || peer->max_datagram_frame_size <= 3) {
        return 0;
    }
    uint64_t by_peer = peer->max_datagram_frame_size - 3;
    /* One short-header packet: flags, DCID, packet number (up to 4), the frame, the AEAD tag (16). */
    size_t udp = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->conn);
    size_t overhead = 1 + ngtcp2_conn_get_dcid(c->conn)->datalen + 4 + 3 + 16;
    uint64_t by_path = udp > overhead ? udp - overhead : 0;
    return (size_t)(by_peer < by_path ? by_peer : by_path);
}

int qp_conn_send_datagram(qp_conn *c, const uint8_t *data, size_t len)
{
    if (!c || (len && !data)) {
        return QP_ERR_ARGUMENT;
    }
    if (len > qp_conn_max_datagram_payload(c) || (len == 0 && qp_conn_max_datagram_payload(c) == 0)) {
        return QP_ERR_DATAGRAM_TOO_LARGE;
    }
    if (c->dgram_count >= QP_MAX_DATAGRAM_QUEUE) {
        return QP_ERR_DATAGRAM_QUEUE_FULL;
    }
    qp_dgram *d = malloc(sizeof(*d) + len);
    if (!d) {
        return NGTCP2_ERR_NOMEM;
    }
    d->next = NULL;
    d->len = len;
    if (len) {
        memcpy(d->data, data, len);
    }
    if (c->dgram_tail) {
        c->dgram_tail->next = d;
    } else {
        c->dgram_head = d;
    }
    c->dgram_tail = d;
    c->dgram_count++;
    return 0;
}

size_t qp_conn_stats_size(void)
{
    return sizeof(qp_conn_stats);
}

int qp_conn_get_stats(qp_conn *c, qp_conn_stats *stats)
{
    if (!c || !stats) {
        return QP_ERR_ARGUMENT;
    }
    ngtcp2_conn_stat cs;
    ngtcp2_conn_get_conn_stat(c->conn, &cs);
    memset(stats, 0, sizeof(*stats));
    stats->smoothed_rtt_ns = cs.smoothed_rtt;
    stats->min_rtt_ns = cs.min_rtt;
    stats->latest_rtt_ns = cs.latest_rtt;
    stats->rttvar_ns = cs.rttvar;
    stats->cwnd = cs.cwnd;
    stats->bytes_in_flight = cs.bytes_in_flight;
    stats->bytes_sent = c->bytes_sent;
    stats->bytes_received = c->bytes_received;
    stats->packets_sent = c->packets_sent;
    stats->packets_received = c->packets_received;
    stats->packets_lost = c->packets_lost_closed;
    for (qp_stream *s = c->streams; s; s = s->next) {
        stats->packets_lost += ngtcp2_conn_get_stream_loss_count(c->conn, s->id);
    }
    stats->pto_count = cs.pto_count;
    return 0;
}

const char *qp_strerror(int error)
{
    switch (error) {
    case QP_ERR_PIN_MISMATCH:
        return "peer certificate does not match the pinned NodeId";
    case QP_ERR_ARGUMENT:
        return "invalid argument";
    case QP_ERR_TLS_SETUP:
        return "TLS set-up failed";
    case QP_ERR_DATAGRAM_QUEUE_FULL:
        return "the DATAGRAM send queue is full";
    case QP_ERR_DATAGRAM_TOO_LARGE:
        return "the DATAGRAM is larger than the peer and the path allow (or the peer does not take DATAGRAMs)";
    default:
        return ngtcp2_strerror(error);
    }
}
