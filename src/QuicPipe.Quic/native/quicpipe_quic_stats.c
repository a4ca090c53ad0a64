/*
 * Statistics: ngtcp2's RTT and congestion state plus the shim's own datagram, byte and loss counters.
 */
#include "quicpipe_quic_internal.h"

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
    stats->congestion_control = c->congestion_control;
    return 0;
}
