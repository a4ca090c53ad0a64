/*
 * What the shim's .c files share; not part of the C# contract (that is quicpipe_quic.h). Per connection the shim
 * keeps three kinds of state: the ngtcp2 connection, its GnuTLS session (with the pinning verifier), and the
 * unacknowledged stream data the caller queued (ngtcp2 does not copy stream data: it must stay put until
 * acknowledged). Functions declared here are not exported: the .so is built with -fvisibility=hidden and only
 * QP_EXPORT names are visible.
 */
#ifndef QUICPIPE_QUIC_INTERNAL_H
#define QUICPIPE_QUIC_INTERNAL_H

#include "quicpipe_quic.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

/* Stream data is queued in fixed chunks that never move, because ngtcp2 keeps pointers into sent data. */
#define QP_CHUNK_SIZE (32 * 1024)

/* Flow-control windows we grant; ngtcp2 auto-tunes stream/connection windows up to the max_* settings. */
#define QP_INITIAL_STREAM_WINDOW (1024 * 1024)
#define QP_INITIAL_CONN_WINDOW (4 * 1024 * 1024)
#define QP_MAX_STREAM_WINDOW (16 * 1024 * 1024)
#define QP_MAX_CONN_WINDOW (32 * 1024 * 1024)
#define QP_MAX_STREAMS_BIDI 256
#define QP_ACTIVE_CID_LIMIT 4
/* The RTT assumed before the first sample: the handshake's first retransmission waits three times this. RFC 9002's
   333 ms made one lost Initial or Handshake packet (a relay socket under a flood loses many) cost a dial about a
   second, two of them three; 100 ms (what Chromium assumes) costs a spurious handshake retransmission on paths
   slower than that, nothing more. */
#define QP_INITIAL_RTT (100 * NGTCP2_MILLISECONDS)

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
    uint64_t congestion_control;  /* QP_CC_CUBIC or QP_CC_BBR2, as given to ngtcp2 */
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
    /* How far this connection's clock runs ahead of the caller's (ns). ngtcp2 0.12 has no call that sends a
       loss-recovery probe before its backed-off timer, so qp_conn_probe_now moves the clock to that deadline
       instead; qp_clock adds this to every timestamp handed to ngtcp2, and qp_conn_get_expiry takes it off. */
    uint64_t clock_ahead;
    uint64_t last_rx_ts; /* when the last packet was read, on this connection's clock (0: none yet) */
    int migration_validating; /* qp_conn_migrate started a path validation that has not ended yet */
    /* When a packet last came from an address other than the current path's remote, on this connection's clock (0:
       not since the last path validation ended). A server validates the path its peer moved to, and ngtcp2 0.12
       says when such a validation ends (the path_validation callback) but not when it starts: this is the start. */
    uint64_t peer_moved_ts;
};

/* ngtcp2's timestamp for the caller's ts on connection c (see clock_ahead). */
static inline uint64_t qp_clock(const qp_conn *c, uint64_t ts)
{
    return ts + c->clock_ahead;
}

/* The caller's callbacks, registered once for the whole process by qp_init (quicpipe_quic.c). */
typedef struct qp_callback_table {
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
} qp_callback_table;

extern qp_callback_table qp_callbacks;

/* ---- shared between the pieces (each defined in the file named) ---- */

/* quicpipe_quic.c: ngtcp2's callbacks for a client (server == 0) or server connection. */
void qp_fill_callbacks(ngtcp2_callbacks *cb, int server);

/* quicpipe_quic_tls.c: the connection's GnuTLS session, with ALPN and the pinning verifier. */
int qp_tls_setup(qp_conn *c, int server, qp_creds *creds, const uint8_t *alpn, size_t alpnlen);

/* quicpipe_quic_log.c: ngtcp2's trace, if QUICPIPE_NGTCP2_LOG asks for it. */
int qp_log_enabled(void);
void qp_log_printf(void *user_data, const char *format, ...);

/* quicpipe_quic_stream.c: a stream's send buffer, by id. */
qp_stream *qp_stream_find(qp_conn *c, int64_t id);
void qp_stream_free(qp_conn *c, int64_t id);

/* quicpipe_quic_path.c: reports a change of the current path through qp_on_path_changed. */
int qp_check_path(qp_conn *c);

/* quicpipe_quic_error.c: remembers the first failure for our CONNECTION_CLOSE. */
void qp_record_error(qp_conn *c, int rv);

/* ---- addresses and paths (inline: read_pkt and write_pkts use them per packet) ---- */

static inline ngtcp2_path qp_path(const uint8_t *local, uint32_t locallen, const uint8_t *remote, uint32_t remotelen)
{
    ngtcp2_path path;
    memset(&path, 0, sizeof(path));
    path.local.addr = (ngtcp2_sockaddr *)local;
    path.local.addrlen = locallen;
    path.remote.addr = (ngtcp2_sockaddr *)remote;
    path.remote.addrlen = remotelen;
    return path;
}

static inline int qp_addr_ok(const uint8_t *addr, uint32_t len)
{
    return addr && len >= 16 && len <= QP_ADDR_SIZE;
}

static inline void qp_copy_addr(uint8_t *dest, const ngtcp2_addr *addr)
{
    size_t n = addr->addrlen < QP_ADDR_SIZE ? addr->addrlen : QP_ADDR_SIZE;
    memset(dest, 0, QP_ADDR_SIZE);
    memcpy(dest, addr->addr, n);
}

/* The sockaddr length of a zero-padded address as stored by qp_copy_addr (by its family). */
static inline uint32_t qp_addr_len(const uint8_t *addr)
{
    const ngtcp2_sockaddr *sa = (const ngtcp2_sockaddr *)addr;
    return sa->sa_family == NGTCP2_AF_INET6 ? (uint32_t)sizeof(ngtcp2_sockaddr_in6)
                                            : (uint32_t)sizeof(ngtcp2_sockaddr_in);
}

/* Same family, port and IP address (and IPv6 scope); IPv6 flow info is ignored. */
static inline int qp_addr_same(const uint8_t *a, const uint8_t *b)
{
    const ngtcp2_sockaddr *sa = (const ngtcp2_sockaddr *)a;
    if (sa->sa_family == NGTCP2_AF_INET) {
        return memcmp(a, b, 8) == 0;
    }
    return memcmp(a, b, 4) == 0 && memcmp(a + 8, b + 8, QP_ADDR_SIZE - 8) == 0;
}

/* ---- a stream's send cursor (inline: write_pkts' loop) ---- */

/* The unsent bytes of the current send chunk; moves to the next chunk when this one is spent. */
static inline size_t qp_stream_pending(qp_stream *s, const uint8_t **data)
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
static inline int qp_stream_is_last(const qp_stream *s)
{
    return s->fin && (!s->send_chunk || !s->send_chunk->next);
}

static inline int qp_stream_has_work(qp_stream *s)
{
    const uint8_t *data;
    return !s->blocked && (qp_stream_pending(s, &data) > 0 || (s->fin && !s->fin_sent));
}

static inline void qp_stream_advance(qp_stream *s, ngtcp2_ssize datalen, int fin_requested)
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

#endif /* QUICPIPE_QUIC_INTERNAL_H */
