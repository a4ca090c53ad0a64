/*
 * udp-sink: counts datagrams arriving on a loopback port for a bounded time.
 *
 *   udp-sink --listen HOST:PORT --duration SECONDS [--verify --size BYTES --cid-length L]
 *
 * Prints {"t":sec,"ts":unix,"packets":cumulative,"bytes":cumulative} once per second on stdout and a
 * final summary line. --verify checks each datagram's length and the udp-loadgen payload pattern.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 65536 /* big enough for any UDP datagram: a truncated one would be miscounted */


static void usage(FILE *f)
{
    fputs("Usage: udp-sink --listen HOST:PORT --duration SECONDS [--verify --size BYTES] [--cid-length L]\n"
          "                [--latency [--latency-skip SECONDS]]\n"
          "\n"
          "Receives with recvmmsg (batch 64, large SO_RCVBUF) and prints one JSON line per second:\n"
          "  {\"t\":sec,\"ts\":unix_time,\"packets\":cumulative,\"bytes\":cumulative}\n"
          "then a summary line {\"summary\":true,...}. SIGINT/SIGTERM end it early (summary still printed).\n"
          "\n"
          "  --listen HOST:PORT  address to bind (IPv4 or [IPv6])\n"
          "  --duration SECONDS  mandatory bound (max 3600)\n"
          "  --verify            check length == --size and the udp-loadgen payload pattern\n"
          "  --size BYTES        expected datagram size for --verify (default 1200)\n"
          "  --cid-length L      DCID length of the generated packets (default 12)\n"
          "  --latency           the datagrams carry udp-loadgen --timestamp send times: report the one-way\n"
          "                      delay (same host, same clock) as latency_us p50/p90/p99/p999/max in the summary,\n"
          "                      measured when recvmmsg returns\n"
          "  --latency-skip S    leave the first S seconds (a warm-up) out of the latency figures (default 0)\n",
          f);
}

/* One-way delays in 1 us buckets up to LAT_BUCKETS us; later ones only raise the overflow count and max. */
#define LAT_BUCKETS 100000
struct latency_stats {
    unsigned long long *buckets, count, overflow, max_ns;
};

static void latency_one(const uint8_t *p, size_t len, size_t cid_len, uint64_t now_ns, struct latency_stats *ls)
{
    size_t off = 1 + cid_len + QP_SEQ_LEN;
    if (len < off + QP_STAMP_LEN)
        return;
    uint64_t sent = get_le64(p + off);
    uint64_t delay = now_ns > sent ? now_ns - sent : 0;
    ls->count++;
    if (delay > ls->max_ns)
        ls->max_ns = delay;
    if (delay / 1000 < LAT_BUCKETS)
        ls->buckets[delay / 1000]++;
    else
        ls->overflow++;
}

/* The bucket (us) below which `fraction` of the delays lie; overflowed ones count as LAT_BUCKETS. */
static double latency_percentile(const struct latency_stats *ls, double fraction)
{
    unsigned long long want = (unsigned long long)(fraction * (double)ls->count), seen = 0;
    for (size_t b = 0; b < LAT_BUCKETS; b++) {
        seen += ls->buckets[b];
        if (seen > want)
            return (double)b;
    }
    return LAT_BUCKETS;
}

struct verify_stats {
    unsigned long long bad_length, bad_header, bad_pattern, truncated;
};

static void verify_one(const uint8_t *p, size_t len, int flags, size_t size, size_t cid_len, size_t stamped,
                       struct verify_stats *vs)
{
    if (flags & MSG_TRUNC) {
        vs->truncated++;
        return;
    }
    if (len != size) {
        vs->bad_length++;
        return;
    }
    if ((p[0] & 0xc0) != 0x40) {
        vs->bad_header++;
        return;
    }
    size_t off = 1 + cid_len;
    for (size_t k = QP_SEQ_LEN + stamped; off + k < len; k++) {
        if (p[off + k] != pattern_byte(k)) {
            vs->bad_pattern++;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    const char *listen_addr = NULL;
    double duration = -1;
    size_t size = 1200, cid_len = 12;
    int verify = 0, latency = 0;
    double latency_skip = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--listen")) { if (!v) die(0, "--listen needs a value"); listen_addr = v; i++; }
        else if (!strcmp(a, "--duration")) { duration = parse_double(a, v, 0.001, 3600); i++; }
        else if (!strcmp(a, "--size")) { size = parse_u64(a, v, 1, 65535); i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else if (!strcmp(a, "--verify")) { verify = 1; }
        else if (!strcmp(a, "--latency")) { latency = 1; }
        else if (!strcmp(a, "--latency-skip")) { latency_skip = parse_double(a, v, 0, 3600); i++; }
        else die(0, "udp-sink: unknown option '%s' (try --help)", a);
    }
    if (listen_addr == NULL)
        die(0, "udp-sink: --listen HOST:PORT is required (try --help)");
    if (duration < 0)
        die(0, "udp-sink: --duration SECONDS is required");
    if (verify && size < 1 + cid_len + QP_SEQ_LEN + (latency ? QP_STAMP_LEN : 0))
        die(0, "udp-sink: --size %zu is smaller than a generated packet's header", size);
    struct latency_stats ls = {0};
    if (latency && (ls.buckets = calloc(LAT_BUCKETS, sizeof *ls.buckets)) == NULL)
        die(errno, "malloc latency buckets");

    struct sockaddr_storage sa;
    socklen_t salen;
    if (parse_hostport(listen_addr, &sa, &salen) != 0)
        die(0, "udp-sink: bad --listen '%s' (want A.B.C.D:PORT or [v6]:PORT)", listen_addr);
    int fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die(errno, "socket");
    set_sock_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, 64 << 20);
    /* Wake up at least every 100 ms so the per-second lines and the deadline are on time. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die(errno, "setsockopt SO_RCVTIMEO");
    if (bind(fd, (struct sockaddr *)&sa, salen) != 0)
        die(errno, "bind %s", listen_addr);

    uint8_t *bufs = malloc((size_t)BATCH * SLOT);
    struct mmsghdr *msgs = calloc(BATCH, sizeof *msgs);
    struct iovec *iovs = calloc(BATCH, sizeof *iovs);
    if (bufs == NULL || msgs == NULL || iovs == NULL)
        die(errno, "malloc");
    for (int b = 0; b < BATCH; b++) {
        iovs[b].iov_base = bufs + (size_t)b * SLOT;
        iovs[b].iov_len = SLOT;
        msgs[b].msg_hdr.msg_iov = &iovs[b];
        msgs[b].msg_hdr.msg_iovlen = 1;
    }

    stop_on_signals();

    fprintf(stderr, "udp-sink: listening on %s for %.1f s\n", listen_addr, duration);
    unsigned long long packets = 0, bytes = 0, calls = 0;
    struct verify_stats vs = {0};
    double start = now_mono(), deadline = start + duration;
    double first_packet = -1, last_packet = -1;
    long next_tick = 1;
    for (;;) {
        double t = now_mono();
        while (t >= start + (double)next_tick) {
            printf("{\"t\":%ld,\"ts\":%.3f,\"packets\":%llu,\"bytes\":%llu}\n", next_tick,
                   now_wall() - (t - start - (double)next_tick), packets, bytes);
            if (fflush(stdout) != 0)
                die(errno, "write stdout");
            next_tick++;
        }
        if (t >= deadline || g_stop)
            break;
        int r = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            die(errno, "recvmmsg");
        }
        calls++;
        uint64_t now_ns = now_mono_ns();
        double now = (double)now_ns * 1e-9;
        int measure = latency && now >= start + latency_skip;
        if (first_packet < 0)
            first_packet = now;
        last_packet = now;
        for (int b = 0; b < r; b++) {
            size_t len = msgs[b].msg_len;
            packets++;
            bytes += len;
            if (verify)
                verify_one(iovs[b].iov_base, len, msgs[b].msg_hdr.msg_flags, size, cid_len,
                           latency ? QP_STAMP_LEN : 0, &vs);
            if (measure)
                latency_one(iovs[b].iov_base, len, cid_len, now_ns, &ls);
        }
    }
    double secs = now_mono() - start;
    double active = first_packet >= 0 ? last_packet - first_packet : 0;
    printf("{\"summary\":true,\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"active_seconds\":%.3f,"
           "\"active_pps\":%.1f,\"recv_calls\":%llu",
           packets, bytes, secs, active, active > 0 ? (double)packets / active : 0.0, calls);
    if (verify)
        printf(",\"verified\":true,\"mismatches\":%llu,\"bad_length\":%llu,\"bad_header\":%llu,"
               "\"bad_pattern\":%llu,\"truncated\":%llu",
               vs.bad_length + vs.bad_header + vs.bad_pattern + vs.truncated, vs.bad_length, vs.bad_header,
               vs.bad_pattern, vs.truncated);
    if (latency)
        printf(",\"latency_count\":%llu,\"latency_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f,"
               "\"max\":%.1f},\"latency_overflow\":%llu",
               ls.count, latency_percentile(&ls, 0.5), latency_percentile(&ls, 0.9), latency_percentile(&ls, 0.99),
               latency_percentile(&ls, 0.999), (double)ls.max_ns / 1000.0, ls.overflow);
    printf("}\n");
    if (fflush(stdout) != 0)
        die(errno, "write stdout");
    free(ls.buckets);
    if (close(fd) != 0)
        die(errno, "close");
    free(bufs);
    free(msgs);
    free(iovs);
    return 0;
}
