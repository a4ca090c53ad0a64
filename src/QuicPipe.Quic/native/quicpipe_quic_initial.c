/*
 * A client's first Initial before any connection exists: the cheap check that its first packet decrypts with the
 * Initial keys its DCID implies (RFC 9001 5.2, 5.4), and address validation with Retry (RFC 9000 8.1.2) using
 * ngtcp2's token helpers. Nothing here allocates: a flood of forged Initials costs one key derivation and one
 * AEAD open each, not a connection and a TLS session.
 */
#include "quicpipe_quic_internal.h"

#include <gnutls/crypto.h>

/* RFC 9001 5.2: the QUIC v1 Initial salt. */
static const uint8_t qp_initial_salt_v1[] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                             0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};

/* The largest first packet checked: the plaintext is opened into a stack buffer of this size. A client's first
   Initial fills at most one datagram of the path MTU (ngtcp2 pads it to 1200). */
#define QP_INITIAL_MAX_PACKET 4096
#define QP_INITIAL_TAGLEN 16
/* The largest header (up to the packet number) checked: room for both CIDs, the varints and a token of a few
   hundred bytes (ours, from Retry, are under 100). */
#define QP_INITIAL_MAX_HEADER 640

static int qp_read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *value)
{
    if (*pos >= len) {
        return -1;
    }
    size_t n = (size_t)1 << (p[*pos] >> 6);
    if (*pos + n > len) {
        return -1;
    }
    uint64_t v = p[*pos] & 0x3f;
    for (size_t i = 1; i < n; i++) {
        v = (v << 8) | p[*pos + i];
    }
    *pos += n;
    *value = v;
    return 0;
}

/* The fields of a v1 Initial's long header up to the packet number, with bounds checked. */
typedef struct qp_initial_hd {
    const uint8_t *dcid;
    size_t dcidlen;
    size_t token_offset;
    size_t tokenlen;
    size_t pn_offset;
    size_t end; /* one past the first packet (pn_offset + the Length field) */
} qp_initial_hd;

static int qp_parse_initial(const uint8_t *pkt, size_t pktlen, qp_initial_hd *hd)
{
    /* Long header, fixed bit, type Initial (0b00): 0b1100xxxx. */
    if (pktlen < 7 || (pkt[0] & 0xf0) != 0xc0) {
        return QP_ERR_INITIAL_HEADER;
    }
    uint32_t version = ((uint32_t)pkt[1] << 24) | ((uint32_t)pkt[2] << 16) | ((uint32_t)pkt[3] << 8) | pkt[4];
    if (version != NGTCP2_PROTO_VER_V1) {
        return QP_ERR_INITIAL_HEADER;
    }
    size_t pos = 5;
    hd->dcidlen = pkt[pos++];
    /* RFC 9000 7.2: a client's first DCID is at least 8 bytes. */
    if (hd->dcidlen < 8 || hd->dcidlen > NGTCP2_MAX_CIDLEN || pos + hd->dcidlen >= pktlen) {
        return QP_ERR_INITIAL_HEADER;
    }
    hd->dcid = pkt + pos;
    pos += hd->dcidlen;
    size_t scidlen = pkt[pos++];
    if (scidlen > NGTCP2_MAX_CIDLEN || pos + scidlen > pktlen) {
        return QP_ERR_INITIAL_HEADER;
    }
    pos += scidlen;
    uint64_t tokenlen, length;
    if (qp_read_varint(pkt, pktlen, &pos, &tokenlen) || tokenlen > pktlen - pos) {
        return QP_ERR_INITIAL_HEADER;
    }
    hd->token_offset = pos;
    hd->tokenlen = (size_t)tokenlen;
    pos += (size_t)tokenlen;
    if (qp_read_varint(pkt, pktlen, &pos, &length) || length > pktlen - pos) {
        return QP_ERR_INITIAL_HEADER;
    }
    /* Room for the longest packet number and the 16-byte header-protection sample after its first 4 bytes. */
    if (length < 4 + 16 || length > QP_INITIAL_MAX_PACKET) {
        return QP_ERR_INITIAL_HEADER;
    }
    hd->pn_offset = pos;
    hd->end = pos + (size_t)length;
    return 0;
}

static int qp_expand_label(uint8_t *dest, size_t destlen, const ngtcp2_crypto_md *md, const uint8_t *secret,
                           size_t secretlen, const char *label)
{
    return ngtcp2_crypto_hkdf_expand_label(dest, destlen, md, secret, secretlen, (const uint8_t *)label,
                                           strlen(label));
}

int qp_initial_check(const uint8_t *pkt, size_t pktlen, size_t *token_offset, size_t *tokenlen)
{
    if (!pkt || !token_offset || !tokenlen) {
        return QP_ERR_ARGUMENT;
    }
    qp_initial_hd hd;
    int rv = qp_parse_initial(pkt, pktlen, &hd);
    if (rv != 0) {
        return rv;
    }

    /* The client's Initial keys (RFC 9001 5.2): anyone can derive them from the DCID, so success proves only that
       the sender did the work of encrypting a packet, which is the point: random bytes no longer pass. */
    ngtcp2_crypto_md md;
    ngtcp2_crypto_md_init(&md, (void *)(uintptr_t)GNUTLS_DIG_SHA256);
    uint8_t initial_secret[32], client_secret[32], key[16], iv[12], hp[16];
    if (ngtcp2_crypto_hkdf_extract(initial_secret, &md, hd.dcid, hd.dcidlen, qp_initial_salt_v1,
                                   sizeof(qp_initial_salt_v1)) != 0 ||
        qp_expand_label(client_secret, sizeof(client_secret), &md, initial_secret, sizeof(initial_secret),
                        "client in") != 0 ||
        qp_expand_label(key, sizeof(key), &md, client_secret, sizeof(client_secret), "quic key") != 0 ||
        qp_expand_label(iv, sizeof(iv), &md, client_secret, sizeof(client_secret), "quic iv") != 0 ||
        qp_expand_label(hp, sizeof(hp), &md, client_secret, sizeof(client_secret), "quic hp") != 0) {
        return QP_ERR_INITIAL_DECRYPT;
    }

    /* Header protection (RFC 9001 5.4.3): AES-ECB of the sample, done as one block of CBC with a zero IV. */
    uint8_t mask[16] = {0};
    gnutls_cipher_hd_t hp_cipher;
    gnutls_datum_t hp_key = {hp, sizeof(hp)};
    gnutls_datum_t hp_iv = {mask, sizeof(mask)};
    if (gnutls_cipher_init(&hp_cipher, GNUTLS_CIPHER_AES_128_CBC, &hp_key, &hp_iv) != 0) {
        return QP_ERR_INITIAL_DECRYPT;
    }
    rv = gnutls_cipher_encrypt2(hp_cipher, pkt + hd.pn_offset + 4, 16, mask, sizeof(mask));
    gnutls_cipher_deinit(hp_cipher);
    if (rv != 0) {
        return QP_ERR_INITIAL_DECRYPT;
    }

    /* The unprotected header is the AEAD's associated data. */
    uint8_t first = pkt[0] ^ (mask[0] & 0x0f);
    size_t pnlen = (size_t)(first & 0x03) + 1;
    size_t aadlen = hd.pn_offset + pnlen;
    uint8_t aad[QP_INITIAL_MAX_HEADER];
    if (aadlen > sizeof(aad) || hd.end < aadlen + QP_INITIAL_TAGLEN) {
        return QP_ERR_INITIAL_HEADER;
    }
    memcpy(aad, pkt, hd.pn_offset);
    aad[0] = first;
    uint8_t nonce[12];
    memcpy(nonce, iv, sizeof(nonce));
    for (size_t i = 0; i < pnlen; i++) {
        aad[hd.pn_offset + i] = pkt[hd.pn_offset + i] ^ mask[1 + i];
        nonce[sizeof(nonce) - pnlen + i] ^= aad[hd.pn_offset + i];
    }

    gnutls_aead_cipher_hd_t aead;
    gnutls_datum_t aead_key = {key, sizeof(key)};
    if (gnutls_aead_cipher_init(&aead, GNUTLS_CIPHER_AES_128_GCM, &aead_key) != 0) {
        return QP_ERR_INITIAL_DECRYPT;
    }
    uint8_t plaintext[QP_INITIAL_MAX_PACKET];
    size_t plaintextlen = sizeof(plaintext);
    rv = gnutls_aead_cipher_decrypt(aead, nonce, sizeof(nonce), aad, aadlen, QP_INITIAL_TAGLEN, pkt + aadlen,
                                    hd.end - aadlen, plaintext, &plaintextlen);
    gnutls_aead_cipher_deinit(aead);
    if (rv != 0) {
        return QP_ERR_INITIAL_DECRYPT;
    }
    *token_offset = hd.token_offset;
    *tokenlen = hd.tokenlen;
    return 0;
}

static ngtcp2_cid qp_cid(const uint8_t *data, size_t len)
{
    ngtcp2_cid cid;
    ngtcp2_cid_init(&cid, data, len);
    return cid;
}

int qp_retry_write(uint8_t *buf, size_t buflen, const uint8_t *pkt, size_t pktlen, const uint8_t *retry_scid,
                   size_t retry_scidlen, const uint8_t *secret, size_t secretlen, const uint8_t *remote,
                   uint32_t remotelen, uint64_t ts)
{
    if (!buf || !pkt || !retry_scid || retry_scidlen == 0 || retry_scidlen > NGTCP2_MAX_CIDLEN || !secret ||
        secretlen == 0 || !qp_addr_ok(remote, remotelen)) {
        return QP_ERR_ARGUMENT;
    }
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, pkt, pktlen) != 0) {
        return QP_ERR_INITIAL_HEADER;
    }
    ngtcp2_cid scid = qp_cid(retry_scid, retry_scidlen);
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token(token, secret, secretlen, hd.version,
                                                               (const ngtcp2_sockaddr *)remote, remotelen, &scid,
                                                               &hd.dcid, ts);
    if (tokenlen < 0) {
        return QP_ERR_TOKEN;
    }
    ngtcp2_ssize n = ngtcp2_crypto_write_retry(buf, buflen, hd.version, &hd.scid, &scid, &hd.dcid, token,
                                               (size_t)tokenlen);
    return n < 0 ? QP_ERR_ARGUMENT : (int)n;
}

int qp_retry_token_verify(const uint8_t *pkt, size_t pktlen, const uint8_t *secret, size_t secretlen,
                          const uint8_t *remote, uint32_t remotelen, uint64_t timeout_ns, uint64_t ts,
                          uint8_t *odcid, size_t *odcidlen)
{
    if (!pkt || !secret || secretlen == 0 || !qp_addr_ok(remote, remotelen) || !odcid || !odcidlen) {
        return QP_ERR_ARGUMENT;
    }
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, pkt, pktlen) != 0) {
        return QP_ERR_INITIAL_HEADER;
    }
    /* A token from another server's NEW_TOKEN (or from nobody) is not ours to honour. */
    if (hd.token.len == 0 || hd.token.base[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
        return QP_ERR_TOKEN;
    }
    ngtcp2_cid original;
    if (ngtcp2_crypto_verify_retry_token(&original, hd.token.base, hd.token.len, secret, secretlen, hd.version,
                                         (const ngtcp2_sockaddr *)remote, remotelen, &hd.dcid, timeout_ns,
                                         ts) != 0) {
        return QP_ERR_TOKEN;
    }
    memcpy(odcid, original.data, original.datalen);
    *odcidlen = original.datalen;
    return 0;
}
