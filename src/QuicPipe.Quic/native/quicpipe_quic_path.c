/*
 * Paths and migration: reporting changes of the current path, client migrations, and the label that lets a
 * migration keep its local socket (see qp_conn_migrate); read_pkt (quicpipe_quic_packet.c) files packets from the
 * old remote under it.
 */
#include "quicpipe_quic_internal.h"

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
int qp_check_path(qp_conn *c)
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
    int rv = validate ? ngtcp2_conn_initiate_migration(c->conn, &path, qp_clock(c, ts))
                      : ngtcp2_conn_initiate_immediate_migration(c->conn, &path, qp_clock(c, ts));
    if (rv != 0) {
        if (c->relabelled) {
            c->relabel_validated = 1;
            qp_finish_relabel(c);
        }
        return rv;
    }
    c->migration_validating = 1;
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

int qp_conn_get_dcid(qp_conn *c, uint8_t *out)
{
    if (!c || !out) {
        return QP_ERR_ARGUMENT;
    }
    const ngtcp2_cid *dcid = ngtcp2_conn_get_dcid(c->conn);
    memcpy(out, dcid->data, dcid->datalen);
    return (int)dcid->datalen;
}
