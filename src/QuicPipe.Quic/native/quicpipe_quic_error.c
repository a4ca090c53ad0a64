/*
 * Errors: the first failure, kept for our CONNECTION_CLOSE; the TLS alert and the peer's close error; the
 * descriptions of error codes.
 */
#include "quicpipe_quic_internal.h"

/* Remembers the first failure, to report it to the peer in our CONNECTION_CLOSE. */
void qp_record_error(qp_conn *c, int rv)
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
    case QP_ERR_INITIAL_HEADER:
        return "not a QUIC v1 client Initial (header)";
    case QP_ERR_INITIAL_DECRYPT:
        return "the Initial does not decrypt with the keys of its DCID";
    case QP_ERR_TOKEN:
        return "no valid Retry token";
    default:
        return ngtcp2_strerror(error);
    }
}
