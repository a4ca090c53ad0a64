/*
 * DATAGRAM frames (RFC 9221): the largest payload the peer and the path allow, and the send queue that
 * write_pkts (quicpipe_quic_packet.c) drains before stream data.
 */
#include "quicpipe_quic_internal.h"

#include <stdlib.h>

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

size_t qp_conn_datagrams_queued(qp_conn *c)
{
    return c ? c->dgram_count : 0;
}
