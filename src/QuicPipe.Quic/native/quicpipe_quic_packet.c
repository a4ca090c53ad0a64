/*
 * Packets and timers: feeding received datagrams (read_pkt), writing datagrams with queued DATAGRAMs and stream
 * data (write_pkts), the CONNECTION_CLOSE (write_close), and the expiry timer and PTO.
 */
#include "quicpipe_quic_internal.h"

#include <stdlib.h>

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
    ts = qp_clock(c, ts);
    const ngtcp2_addr *current_peer = &ngtcp2_conn_get_path(c->conn)->remote;
    if (current_peer->addrlen != remotelen || memcmp(current_peer->addr, remote, remotelen) != 0) {
        c->peer_moved_ts = ts;
    }
    int rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, pktlen, ts);
    if (rv != 0) {
        qp_record_error(c, rv);
        if (c->pin_mismatch) {
            return QP_ERR_PIN_MISMATCH;
        }
        return rv;
    }
    c->last_rx_ts = ts;
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
    ts = qp_clock(c, ts);
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
    /* One packet info for every call, zeroed: a packet that a DATAGRAM call leaves open (WRITE_MORE) is finished
       by a stream call, and ngtcp2 reads the ECN mark of the packet so far from the info it is given. A second,
       uninitialised one made its ECN validation count packets it never started, and abort on an assertion. */
    ngtcp2_pkt_info pi = {0};
    size_t count = 0;
    while (count < max_pkts) {
        uint8_t *dest = slots + count * slot_size;
        if (c->dgram_head) {
            /* DATAGRAMs first: they are small, latency-sensitive, and never wait for flow control. */
            qp_dgram *d = c->dgram_head;
            ngtcp2_vec v = {d->data, d->len};
            int accepted = 0;
            ngtcp2_ssize n = ngtcp2_conn_writev_datagram(c->conn, &ps.path, &pi, dest, slot_size, &accepted,
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
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, buf, buflen, &ccerr, qp_clock(c, ts));
    if (n > 0) {
        qp_copy_addr(remote_addr, &ps.path.remote);
        c->packets_sent++;
        c->bytes_sent += (uint64_t)n;
    }
    return (int)n;
}

uint64_t qp_conn_get_expiry(qp_conn *c)
{
    uint64_t expiry = ngtcp2_conn_get_expiry(c->conn);
    if (expiry == UINT64_MAX) {
        return expiry;
    }
    return expiry > c->clock_ahead ? expiry - c->clock_ahead : 0;
}

/* The earliest the idle timeout can end the connection, on its clock: ngtcp2 counts from the last packet read (or a
   later send), and the negotiated timeout is the smaller of the two sides' (0: none). */
static uint64_t qp_idle_deadline(qp_conn *c)
{
    uint64_t timeout = ngtcp2_conn_get_local_transport_params(c->conn)->max_idle_timeout;
    const ngtcp2_transport_params *remote = ngtcp2_conn_get_remote_transport_params(c->conn);
    if (remote && remote->max_idle_timeout && (!timeout || remote->max_idle_timeout < timeout)) {
        timeout = remote->max_idle_timeout;
    }
    return timeout ? c->last_rx_ts + timeout : UINT64_MAX;
}

/* Longer than any path validation of ours takes: ngtcp2 0.12 gives one max(3 PTO, 6 initial RTT), 2 s at least. */
#define QP_PEER_MOVE_GUARD (10 * NGTCP2_SECONDS)

int qp_conn_probe_now(qp_conn *c, uint64_t ts)
{
    if (!c) {
        return QP_ERR_ARGUMENT;
    }
    /* Not during a path validation either, ours or the one a server runs on the path its peer moved to: the jump
       would make its timer expire early, failing a validation that was still in time (the lab saw a fallback to the
       relay "fail" 3 ms after it started, and a server follow its peer there a second late). The peer's move counts
       until a validation ends, or for QP_PEER_MOVE_GUARD if none does (the packet may have been a stray one). */
    uint64_t now = qp_clock(c, ts);
    if (ngtcp2_conn_is_in_closing_period(c->conn) || ngtcp2_conn_is_in_draining_period(c->conn) ||
        c->migration_validating || (c->peer_moved_ts != 0 && now - c->peer_moved_ts < QP_PEER_MOVE_GUARD)) {
        return 0;
    }
    ngtcp2_conn_stat st;
    ngtcp2_conn_get_conn_stat(c->conn, &st);
    uint64_t due = st.loss_detection_timer;
    /* Only while probes go unanswered (a healthy connection's timer is left alone, so a caller may ask often), and
       never before the first packet read. The jump brings the idle deadline nearer in real time, so one may take at
       most half of what is left; each unanswered probe doubles the next jump, so asks repeated while nothing
       answers stop before they have taken three quarters of it. */
    if (st.pto_count == 0 || c->last_rx_ts == 0 || due == UINT64_MAX || due <= now) {
        return 0;
    }
    uint64_t idle = qp_idle_deadline(c);
    if (idle <= now || due - now > (idle - now) / 2) {
        return 0;
    }
    c->clock_ahead += due - now;
    return 1;
}

int qp_conn_handle_expiry(qp_conn *c, uint64_t ts)
{
    int rv = ngtcp2_conn_handle_expiry(c->conn, qp_clock(c, ts));
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

uint64_t qp_conn_get_pto(qp_conn *c)
{
    return ngtcp2_conn_get_pto(c->conn);
}
