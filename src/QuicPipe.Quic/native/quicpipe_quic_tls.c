/*
 * TLS: our credentials, each connection's GnuTLS session (TLS 1.3 only, ALPN, mutual authentication) and the
 * SPKI pin checked in GnuTLS's verify hook; the peer's SPKI hash, the keying-material exporter and the ALPN.
 */
#include "quicpipe_quic_internal.h"

#include <stdlib.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

/* TLS 1.3 only, and no middlebox-compatibility mode: QUIC forbids its ChangeCipherSpec records. */
static const char qp_priority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                                  "+CHACHA20-POLY1305:%DISABLE_TLS13_COMPAT_MODE";

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

int qp_tls_setup(qp_conn *c, int server, qp_creds *creds, const uint8_t *alpn, size_t alpnlen)
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
    /* A server may take several protocols (the peer's tunnels and its mesh links share one endpoint): their names
       come separated by NUL bytes. A client offers exactly the one it was given. */
    gnutls_datum_t protos[QP_MAX_SERVER_ALPNS];
    unsigned int count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= alpnlen; i++) {
        if (i < alpnlen && (!server || alpn[i] != 0)) {
            continue;
        }
        if (i == start || count == QP_MAX_SERVER_ALPNS) {
            return QP_ERR_TLS_SETUP;
        }
        protos[count].data = (unsigned char *)alpn + start;
        protos[count].size = (unsigned int)(i - start);
        count++;
        start = i + 1;
    }
    if (gnutls_alpn_set_protocols(c->session, protos, count, server ? GNUTLS_ALPN_MANDATORY : 0) < 0) {
        return QP_ERR_TLS_SETUP;
    }
    c->conn_ref.get_conn = qp_get_conn;
    c->conn_ref.user_data = c;
    gnutls_session_set_ptr(c->session, &c->conn_ref);
    return 0;
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
