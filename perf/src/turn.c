#define _GNU_SOURCE
#include "turn.h"
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define STUN_COOKIE 0x2112A442u
#define STUN_HEADER_LEN 20

#define STUN_ALLOCATE 0x0003
#define STUN_CHANNEL_BIND 0x0009
#define STUN_SUCCESS_CLASS 0x0100
#define STUN_ERROR_CLASS 0x0110
#define STUN_CLASS_MASK 0x0110

#define ATTR_CHANNEL_NUMBER 0x000C
#define ATTR_LIFETIME 0x000D
#define ATTR_XOR_PEER_ADDRESS 0x0012
#define ATTR_XOR_RELAYED_ADDRESS 0x0016
#define ATTR_REQUESTED_TRANSPORT 0x0019
#define ATTR_ERROR_CODE 0x0009

#define TURN_LIFETIME_S 3600 /* longer than any bounded run, so no Refresh is needed */
#define TURN_ATTEMPTS 6
#define TURN_ATTEMPT_MS 500

struct stun_msg {
    uint8_t b[512];
    size_t len;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void stun_begin(struct stun_msg *m, uint16_t type)
{
    memset(m, 0, sizeof *m);
    put16(m->b, type);
    put32(m->b + 4, STUN_COOKIE);
    if (getrandom(m->b + 8, 12, 0) != 12)
        die(errno, "getrandom");
    m->len = STUN_HEADER_LEN;
}

static void stun_attr(struct stun_msg *m, uint16_t type, const void *value, uint16_t len)
{
    size_t padded = (len + 3u) & ~3u;
    if (m->len + 4 + padded > sizeof m->b)
        die(0, "turn: STUN message too long");
    put16(m->b + m->len, type);
    put16(m->b + m->len + 2, len);
    memcpy(m->b + m->len + 4, value, len);
    m->len += 4 + padded;
    put16(m->b + 2, (uint16_t)(m->len - STUN_HEADER_LEN));
}

/* XOR-*-ADDRESS: the port XORed with the cookie's top half, the address with the cookie
 * (and, for IPv6, the transaction id after it). */
static void stun_xor_address(struct stun_msg *m, uint16_t type, const struct sockaddr_storage *sa)
{
    uint8_t v[20] = {0};
    uint8_t key[16];
    put32(key, STUN_COOKIE);
    memcpy(key + 4, m->b + 8, 12);
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        v[1] = 0x01;
        put16(v + 2, (uint16_t)(ntohs(v4->sin_port) ^ (STUN_COOKIE >> 16)));
        memcpy(v + 4, &v4->sin_addr, 4);
        for (int i = 0; i < 4; i++)
            v[4 + i] ^= key[i];
        stun_attr(m, type, v, 8);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        v[1] = 0x02;
        put16(v + 2, (uint16_t)(ntohs(v6->sin6_port) ^ (STUN_COOKIE >> 16)));
        memcpy(v + 4, &v6->sin6_addr, 16);
        for (int i = 0; i < 16; i++)
            v[4 + i] ^= key[i];
        stun_attr(m, type, v, 20);
    }
}

static int read_xor_address(const uint8_t *v, uint16_t len, const uint8_t *header, struct sockaddr_storage *out)
{
    uint8_t key[16];
    memcpy(key, header + 4, 16); /* cookie + transaction id, as on the wire */
    memset(out, 0, sizeof *out);
    uint16_t port = (uint16_t)(get16(v + 2) ^ (STUN_COOKIE >> 16));
    if (v[1] == 0x01 && len >= 8) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)out;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        uint8_t a[4];
        for (int i = 0; i < 4; i++)
            a[i] = v[4 + i] ^ key[i];
        memcpy(&v4->sin_addr, a, 4);
        return 0;
    }
    if (v[1] == 0x02 && len >= 20) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        for (int i = 0; i < 16; i++)
            v6->sin6_addr.s6_addr[i] = v[4 + i] ^ key[i];
        return 0;
    }
    return -1;
}

/* Sends the request until a response with its transaction id arrives; dies on an error
 * response (with the server's code and reason) or when every attempt timed out. Returns the
 * response's length in resp. */
static size_t stun_transact(int fd, const struct stun_msg *req, const char *what, uint8_t *resp, size_t cap)
{
    uint16_t method = get16(req->b) & (uint16_t)~STUN_CLASS_MASK;
    for (int attempt = 0; attempt < TURN_ATTEMPTS; attempt++) {
        if (send(fd, req->b, req->len, 0) < 0 && errno != ECONNREFUSED)
            die(errno, "turn: send %s", what);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, TURN_ATTEMPT_MS) > 0) {
            ssize_t n = recv(fd, resp, cap, 0);
            if (n < 0) {
                if (errno == ECONNREFUSED)
                    break; /* nothing listens yet: the next attempt resends */
                die(errno, "turn: recv %s", what);
            }
            if (n < STUN_HEADER_LEN || memcmp(resp + 8, req->b + 8, 12) != 0)
                continue; /* not ours (a late answer to an earlier attempt) */
            uint16_t type = get16(resp);
            if ((type & (uint16_t)~STUN_CLASS_MASK) != method)
                continue;
            if ((type & STUN_CLASS_MASK) == STUN_SUCCESS_CLASS)
                return (size_t)n;
            /* An error response: find ERROR-CODE (class in the low 3 bits of byte 2, number in byte 3). */
            for (size_t off = STUN_HEADER_LEN; off + 4 <= (size_t)n;) {
                uint16_t at = get16(resp + off), al = get16(resp + off + 2);
                if (off + 4 + al > (size_t)n)
                    break;
                if (at == ATTR_ERROR_CODE && al >= 4)
                    die(0, "turn: %s refused: %d %.*s", what, (resp[off + 6] & 7) * 100 + resp[off + 7],
                        (int)(al - 4), (const char *)resp + off + 8);
                off += 4 + ((al + 3u) & ~3u);
            }
            die(0, "turn: %s refused without an error code", what);
        }
    }
    die(0, "turn: no answer to %s after %d attempts of %d ms", what, TURN_ATTEMPTS, TURN_ATTEMPT_MS);
}

void turn_bind_channel(int fd, const struct sockaddr_storage *peer, uint16_t channel,
                       struct sockaddr_storage *relayed)
{
    if (channel < 0x4000 || channel > 0x4FFF)
        die(0, "turn: channel 0x%x is outside 0x4000..0x4FFF", channel);
    uint8_t resp[1500];
    struct stun_msg m;

    stun_begin(&m, STUN_ALLOCATE);
    const uint8_t udp_transport[4] = {IPPROTO_UDP, 0, 0, 0};
    stun_attr(&m, ATTR_REQUESTED_TRANSPORT, udp_transport, 4);
    uint8_t lifetime[4];
    put32(lifetime, TURN_LIFETIME_S);
    stun_attr(&m, ATTR_LIFETIME, lifetime, 4);
    size_t n = stun_transact(fd, &m, "Allocate", resp, sizeof resp);
    int found = 0;
    for (size_t off = STUN_HEADER_LEN; off + 4 <= n;) {
        uint16_t at = get16(resp + off), al = get16(resp + off + 2);
        if (off + 4 + al > n)
            break;
        if (at == ATTR_XOR_RELAYED_ADDRESS && read_xor_address(resp + off + 4, al, resp, relayed) == 0)
            found = 1;
        off += 4 + ((al + 3u) & ~3u);
    }
    if (!found)
        die(0, "turn: the Allocate answer holds no XOR-RELAYED-ADDRESS");

    /* ChannelBind also installs the permission for the peer's address. */
    stun_begin(&m, STUN_CHANNEL_BIND);
    uint8_t number[4] = {0};
    put16(number, channel);
    stun_attr(&m, ATTR_CHANNEL_NUMBER, number, 4);
    stun_xor_address(&m, ATTR_XOR_PEER_ADDRESS, peer);
    stun_transact(fd, &m, "ChannelBind", resp, sizeof resp);
}

void turn_channel_header(uint8_t out[TURN_CHANNEL_HEADER_LEN], uint16_t channel, uint16_t payload_len)
{
    put16(out, channel);
    put16(out + 2, payload_len);
}
