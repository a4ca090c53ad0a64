/*
 * Connection life: creating client and server connections (settings, transport parameters, flow-control windows
 * from qp_conn_config) and deleting them with everything they still hold.
 */
#include "quicpipe_quic_internal.h"

#include <stdlib.h>

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
    settings->initial_rtt = QP_INITIAL_RTT;
    settings->cc_algo = config->congestion_control == QP_CC_BBR2 ? NGTCP2_CC_ALGO_BBR2 : NGTCP2_CC_ALGO_CUBIC;
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
    c->congestion_control = config->congestion_control == QP_CC_BBR2 ? QP_CC_BBR2 : QP_CC_CUBIC;
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

qp_conn *qp_conn_server_new(const uint8_t *pkt, size_t pktlen, const uint8_t *odcid, size_t odcidlen,
                            const uint8_t *scid, size_t scidlen, const uint8_t *reset_token, const uint8_t *local, uint32_t locallen,
                            const uint8_t *remote, uint32_t remotelen, qp_creds *creds, const uint8_t *alpn,
                            size_t alpnlen, const uint8_t *expected_peer_spki_sha256, const qp_conn_config *config,
                            uint64_t ts, void *user, int *error)
{
    int ignored;
    error = error ? error : &ignored;
    if (!config || !pkt || !scid || scidlen == 0 || scidlen > NGTCP2_MAX_CIDLEN || !reset_token ||
        (odcid && (odcidlen == 0 || odcidlen > NGTCP2_MAX_CIDLEN)) ||
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
    if (odcid) {
        /* RFC 9000 7.3: after a Retry the client checks both CIDs; the validated token also lifts the
           anti-amplification limit. */
        ngtcp2_cid_init(&params.original_dcid, odcid, odcidlen);
        params.retry_scid = hd.dcid;
        params.retry_scid_present = 1;
        settings.token = hd.token;
    } else {
        params.original_dcid = hd.dcid;
    }
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
