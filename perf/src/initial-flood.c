/*
 * initial-flood: bounded flood of QUIC v1 client Initials at a loopback relay's control service.
 *
 *   initial-flood --target HOST:PORT --duration S --mode garbage [--source ADDR] [--rate PPS] [--batch B]
 *   initial-flood --target HOST:PORT --duration S --mode replay --initials FILE [--source ADDR] [--rate PPS]
 *
 * garbage: Initial-shaped datagrams of 1200 bytes (long header 0xc3, version 1, a 12-byte DCID in the relay's
 *          namespace (top bit set), an 8-byte SCID, no token, a Length that fits) with a random payload: what costs
 *          the sender nothing. Each datagram has a new DCID.
 * replay:  real client Initials (FILE: records of a 2-byte big-endian length and the datagram, as
 *          `QuicPipe.QuicBench initials` writes them), round-robin: handshakes that never complete.
 * Sends from one UDP socket bound to --source (default 127.0.0.1; Linux routes all of 127/8 to lo, so
 * 127.0.0.2, .3 ... are distinct sources). Loopback targets only. Prints one JSON summary line.
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define DATAGRAM 1200
#define MAX_INITIALS 65536


static void usage(FILE *f)
{
    fputs("Usage:\n"
          "  initial-flood --target HOST:PORT --duration SECONDS --mode garbage [options]\n"
          "  initial-flood --target HOST:PORT --duration SECONDS --mode replay --initials FILE [options]\n"
          "\n"
          "Options:\n"
          "  --source ADDR        local address to send from (default 127.0.0.1)\n"
          "  --rate PPS           datagrams per second, paced; 0 = as fast as possible (default 0)\n"
          "  --batch B            datagrams per sendmmsg call, 1..1024 (default 64)\n"
          "  --seed S             seed of the garbage (default 1)\n",
          f);
}

static int is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    }
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* Reads FILE's records into one buffer; returns how many, their offsets and lengths. */
static size_t read_initials(const char *path, uint8_t **data, size_t *offsets, uint16_t *lengths)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die(errno, "initial-flood: %s", path);
    size_t cap = 1 << 20, used = 0, n = 0;
    *data = malloc(cap);
    if (*data == NULL)
        die(errno, "malloc");
    uint8_t len[2];
    while (n < MAX_INITIALS && fread(len, 1, 2, f) == 2) {
        uint16_t l = (uint16_t)(len[0] << 8 | len[1]);
        if (l == 0 || l > 65507)
            die(0, "initial-flood: %s: record %zu has length %u", path, n, l);
        if (used + l > cap) {
            cap *= 2;
            *data = realloc(*data, cap);
            if (*data == NULL)
                die(errno, "realloc");
        }
        if (fread(*data + used, 1, l, f) != l)
            die(0, "initial-flood: %s: record %zu is cut short", path, n);
        offsets[n] = used;
        lengths[n] = l;
        used += l;
        n++;
    }
    fclose(f);
    if (n == 0)
        die(0, "initial-flood: %s holds no Initials", path);
    return n;
}

static void fill_garbage(uint8_t *p, uint64_t *rng)
{
    for (size_t k = 0; k < DATAGRAM; k += 8) {
        uint64_t r = xorshift64(rng);
        memcpy(p + k, &r, DATAGRAM - k < 8 ? DATAGRAM - k : 8);
    }
    size_t pos = 0;
    p[pos++] = 0xc3;                                 /* long header, fixed bit, Initial, 4-byte packet number */
    p[pos++] = 0; p[pos++] = 0; p[pos++] = 0; p[pos++] = 1; /* QUIC v1 */
    p[pos++] = 12;
    p[pos] |= 0x80;                                  /* the relay's CID namespace: its control service's */
    pos += 12;
    p[pos++] = 8;
    pos += 8;
    p[pos++] = 0;                                    /* no token */
    size_t length = DATAGRAM - pos - 2;
    p[pos++] = (uint8_t)(0x40 | (length >> 8));
    p[pos++] = (uint8_t)length;
}

int main(int argc, char **argv)
{
    const char *target = NULL, *source = "127.0.0.1", *mode = NULL, *initials = NULL;
    double duration = -1, rate = 0;
    size_t batch = 64;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--target")) { if (!v) die(0, "--target needs a value"); target = v; i++; }
        else if (!strcmp(a, "--source")) { if (!v) die(0, "--source needs a value"); source = v; i++; }
        else if (!strcmp(a, "--mode")) { if (!v) die(0, "--mode needs a value"); mode = v; i++; }
        else if (!strcmp(a, "--initials")) { if (!v) die(0, "--initials needs a value"); initials = v; i++; }
        else if (!strcmp(a, "--duration")) { duration = parse_double(a, v, 0.001, 3600); i++; }
        else if (!strcmp(a, "--rate")) { rate = parse_double(a, v, 0, 1e9); i++; }
        else if (!strcmp(a, "--batch")) { batch = parse_u64(a, v, 1, MAX_BATCH); i++; }
        else if (!strcmp(a, "--seed")) { seed = parse_u64(a, v, 1, UINT64_MAX); i++; }
        else die(0, "initial-flood: unknown option '%s' (try --help)", a);
    }
    if (target == NULL || duration < 0 || mode == NULL)
        die(0, "initial-flood: --target, --duration and --mode are required (try --help)");
    int replay = !strcmp(mode, "replay");
    if (!replay && strcmp(mode, "garbage"))
        die(0, "initial-flood: --mode is garbage or replay, not '%s'", mode);
    if (replay && initials == NULL)
        die(0, "initial-flood: --mode replay needs --initials FILE");

    struct sockaddr_storage dst, src;
    socklen_t dstlen, srclen;
    if (parse_hostport(target, &dst, &dstlen) != 0)
        die(0, "initial-flood: bad --target '%s'", target);
    if (!is_loopback(&dst))
        die(0, "initial-flood: refusing to send to non-loopback %s", target);
    char source_port[64];
    snprintf(source_port, sizeof source_port, dst.ss_family == AF_INET6 ? "[%s]:0" : "%s:0", source);
    if (parse_hostport(source_port, &src, &srclen) != 0 || !is_loopback(&src))
        die(0, "initial-flood: bad --source '%s' (a loopback address)", source);

    int fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die(errno, "socket");
    set_sock_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, 4 << 20);
    if (bind(fd, (struct sockaddr *)&src, srclen) != 0)
        die(errno, "bind %s", source);
    if (connect(fd, (struct sockaddr *)&dst, dstlen) != 0)
        die(errno, "connect %s", target);

    static size_t offsets[MAX_INITIALS];
    static uint16_t lengths[MAX_INITIALS];
    uint8_t *records = NULL;
    size_t nrecords = replay ? read_initials(initials, &records, offsets, lengths) : 0;

    uint8_t *bufs = malloc(batch * DATAGRAM);
    struct mmsghdr *msgs = calloc(batch, sizeof *msgs);
    struct iovec *iovs = calloc(batch, sizeof *iovs);
    if (bufs == NULL || msgs == NULL || iovs == NULL)
        die(errno, "malloc buffers");
    uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 0x9e3779b97f4a7c15ULL;
    for (size_t b = 0; b < batch; b++) {
        fill_garbage(bufs + b * DATAGRAM, &rng);
        iovs[b].iov_base = bufs + b * DATAGRAM;
        iovs[b].iov_len = DATAGRAM;
        msgs[b].msg_hdr.msg_iov = &iovs[b];
        msgs[b].msg_hdr.msg_iovlen = 1;
    }

    stop_on_signals();

    uint64_t seq = 0, sent = 0, dropped = 0;
    double start = now_mono(), deadline = start + duration;
    struct pacer pacer;
    pacer_init(&pacer, rate, batch, start);
    while (!g_stop && now_mono() < deadline) {
        size_t n = pacer_ready(&pacer, deadline);
        if (n == 0)
            continue;
        for (size_t b = 0; b < n; b++) {
            uint64_t s = seq + b;
            if (replay) {
                size_t r = s % nrecords;
                iovs[b].iov_base = records + offsets[r];
                iovs[b].iov_len = lengths[r];
            } else {
                /* A new DCID each time (the counter in its last 8 bytes): every one is a new connection's. */
                memcpy(bufs + b * DATAGRAM + 10, &s, 8);
            }
        }
        int r = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) {
                dropped += n;
                seq += n;
                pacer_spent(&pacer, n);
                continue;
            }
            die(errno, "sendmmsg");
        }
        sent += (uint64_t)r;
        seq += n;
        pacer_spent(&pacer, n);
    }
    double seconds = now_mono() - start;
    printf("{\"mode\":\"%s\",\"source\":\"%s\",\"sent\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n",
           mode, source, (unsigned long long)sent, (unsigned long long)dropped, seconds,
           seconds > 0 ? (double)sent / seconds : 0);
    return 0;
}
