/*
 * Streams: the send buffers that keep queued data put until it is acknowledged (ngtcp2 keeps pointers into it),
 * opening streams, receive credit, stream limits and shutdown. write_pkts (quicpipe_quic_packet.c) sends from the
 * buffers through the cursor helpers in quicpipe_quic_internal.h.
 */
#include "quicpipe_quic_internal.h"

#include <stdlib.h>

/* ---- stream send buffers ---- */

qp_stream *qp_stream_find(qp_conn *c, int64_t id)
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

void qp_stream_free(qp_conn *c, int64_t id)
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
