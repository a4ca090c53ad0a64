/*
 * udp-loadgen: bounded QUIC short-header datagram generator for loopback benchmarks.
 *
 *   udp-loadgen --target HOST:PORT --duration S [--cids N] [--cid-length L] [--seed S]
 *               [--size BYTES] [--rate PPS] [--pace-us US] [--batch B] [--flows F] [--timestamp]
 *   udp-loadgen routes --cids N [--cid-length L] [--seed S] --sink HOST:PORT
 *   udp-loadgen --target TURNSERVER:PORT --turn-peer SINK:PORT --duration S [options]
 *
 * Datagram layout: byte 0 = 0x40 | random 6 bits (short header, fixed bit set), then the DCID,
 * then an 8-byte little-endian sequence number, then pattern_byte(k) for every later payload
 * offset k (with --timestamp, the 8 bytes after the sequence hold the send time instead). udp-sink
 * --verify checks that layout; udp-sink --latency reads the send time.
 */
#define _GNU_SOURCE
#include "common.h"
#include "turn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_FLOWS 256
#define TURN_CHANNEL 0x4000 /* channel numbers are per allocation: every flow can use the first */


static void usage(FILE *f)
{
    fputs("Usage:\n"
          "  udp-loadgen --target HOST:PORT --duration SECONDS [options]\n"
          "  udp-loadgen routes --cids N [--cid-length L] [--seed S] --sink HOST:PORT\n"
          "\n"
          "Sends QUIC short-header datagrams (0x40|random bits, DCID, 8-byte sequence, pattern)\n"
          "to a loopback target, cycling over N deterministic CIDs. Prints a JSON summary line.\n"
          "\n"
          "Options:\n"
          "  --target HOST:PORT   destination (IPv4 or [IPv6]); loopback only\n"
          "  --duration SECONDS   mandatory bound on the run time (max 3600)\n"
          "  --cids N             distinct CIDs to cycle over (default 1000)\n"
          "  --cid-length L       DCID length in bytes, 1..20 (default 12)\n"
          "  --seed S             seed of the CID derivation (default 1)\n"
          "  --size BYTES         datagram size (default 1200)\n"
          "  --rate PPS           packets per second, token-bucket paced; 0 = as fast as possible (default 0)\n"
          "  --pace-us US         with --rate, send what is due every US microseconds, 10..1000000\n"
          "                       (default 1000: bursts of rate/1000; smaller is smoother)\n"
          "  --timestamp          put the send time (CLOCK_MONOTONIC ns) after the sequence number,\n"
          "                       for udp-sink --latency; read once per sendmmsg call, so within a burst\n"
          "                       the later datagrams' delay includes sending the earlier ones\n"
          "  --batch B            datagrams per sendmmsg call, 1..1024 (default 64)\n"
          "  --flows F            source sockets (distinct ephemeral ports), round-robin per batch (default 4)\n"
          "  --allow-non-loopback send to a non-loopback address (refused by default)\n"
          "  --peer-cids          clear the top bit of every CID's first byte (the relay reserves CIDs with\n"
          "                       it set for itself; its XDP program passes those to userspace); also in routes\n"
          "  --turn-peer HOST:PORT --target is a TURN server (anonymous, e.g. coturn --no-auth): every flow\n"
          "                       allocates a relayed address and binds a channel to HOST:PORT, then sends each\n"
          "                       datagram as ChannelData (a 4-byte header before the same --size bytes), so\n"
          "                       HOST:PORT receives exactly what it would receive from a QuicPipe relay\n"
          "\n"
          "routes mode prints 'CIDHEX HOST:PORT' lines for the same CIDs, for a forwarder's routes file.\n",
          f);
}

static int is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
}

static int routes_main(int argc, char **argv)
{
    uint64_t cids = 0, seed = 1;
    size_t cid_len = 12;
    const char *sink = NULL;
    int peer_cids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--cids")) { cids = parse_u64(a, v, 1, 100000000); i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else if (!strcmp(a, "--seed")) { seed = parse_u64(a, v, 0, UINT64_MAX); i++; }
        else if (!strcmp(a, "--sink")) { if (!v) die(0, "--sink needs a value"); sink = v; i++; }
        else if (!strcmp(a, "--peer-cids")) { peer_cids = 1; }
        else die(0, "udp-loadgen routes: unknown option '%s' (try --help)", a);
    }
    if (cids == 0)
        die(0, "udp-loadgen routes: --cids N is required");
    if (sink == NULL)
        die(0, "udp-loadgen routes: --sink HOST:PORT is required");
    struct sockaddr_storage sa;
    socklen_t salen;
    if (parse_hostport(sink, &sa, &salen) != 0)
        die(0, "udp-loadgen routes: bad --sink '%s' (want A.B.C.D:PORT or [v6]:PORT)", sink);
    char addr[80];
    format_hostport(&sa, addr, sizeof addr);

    static char outbuf[1 << 20];
    if (setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf) != 0)
        die(errno, "setvbuf");
    static const char hex[] = "0123456789abcdef";
    uint8_t cid[QP_MAX_CID_LEN];
    char line[2 * QP_MAX_CID_LEN + 1];
    for (uint64_t i = 0; i < cids; i++) {
        derive_cid(seed, i, cid, cid_len);
        if (peer_cids)
            cid[0] &= 0x7f;
        for (size_t b = 0; b < cid_len; b++) {
            line[2 * b] = hex[cid[b] >> 4];
            line[2 * b + 1] = hex[cid[b] & 15];
        }
        line[2 * cid_len] = '\0';
        if (printf("%s %s\n", line, addr) < 0)
            die(errno, "write routes");
    }
    if (fflush(stdout) != 0)
        die(errno, "write routes");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "routes"))
        return routes_main(argc - 1, argv + 1);

    const char *target = NULL, *turn_peer = NULL;
    double duration = -1, rate = 0, pace = 0.001;
    uint64_t cids = 1000, seed = 1;
    size_t cid_len = 12, size = 1200, batch = 64, flows = 4;
    int allow_remote = 0, peer_cids = 0, timestamp = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--target")) { if (!v) die(0, "--target needs a value"); target = v; i++; }
        else if (!strcmp(a, "--duration")) { duration = parse_double(a, v, 0.001, 3600); i++; }
        else if (!strcmp(a, "--cids")) { cids = parse_u64(a, v, 1, 100000000); i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else if (!strcmp(a, "--seed")) { seed = parse_u64(a, v, 0, UINT64_MAX); i++; }
        else if (!strcmp(a, "--size")) { size = parse_u64(a, v, 1, 65000); i++; }
        else if (!strcmp(a, "--rate")) { rate = parse_double(a, v, 0, 1e9); i++; }
        else if (!strcmp(a, "--pace-us")) { pace = parse_double(a, v, 10, 1e6) * 1e-6; i++; }
        else if (!strcmp(a, "--timestamp")) { timestamp = 1; }
        else if (!strcmp(a, "--batch")) { batch = parse_u64(a, v, 1, MAX_BATCH); i++; }
        else if (!strcmp(a, "--flows")) { flows = parse_u64(a, v, 1, MAX_FLOWS); i++; }
        else if (!strcmp(a, "--allow-non-loopback")) { allow_remote = 1; }
        else if (!strcmp(a, "--peer-cids")) { peer_cids = 1; }
        else if (!strcmp(a, "--turn-peer")) { if (!v) die(0, "--turn-peer needs a value"); turn_peer = v; i++; }
        else die(0, "udp-loadgen: unknown option '%s' (try --help)", a);
    }
    if (target == NULL)
        die(0, "udp-loadgen: --target HOST:PORT is required (try --help)");
    if (duration < 0)
        die(0, "udp-loadgen: --duration SECONDS is required: every load must stop by itself");
    if (size < 1 + cid_len + QP_SEQ_LEN)
        die(0, "udp-loadgen: --size %zu is too small for a 1-byte header, a %zu-byte CID and an 8-byte sequence",
            size, cid_len);
    if (timestamp && size < 1 + cid_len + QP_SEQ_LEN + QP_STAMP_LEN)
        die(0, "udp-loadgen: --size %zu is too small for --timestamp (header, CID, sequence and 8-byte time)", size);
    struct sockaddr_storage dst;
    socklen_t dstlen;
    if (parse_hostport(target, &dst, &dstlen) != 0)
        die(0, "udp-loadgen: bad --target '%s' (want A.B.C.D:PORT or [v6]:PORT)", target);
    if (!is_loopback(&dst) && !allow_remote)
        die(0, "udp-loadgen: refusing to send to non-loopback %s", target);
    struct sockaddr_storage peer;
    socklen_t peerlen;
    if (turn_peer != NULL) {
        if (parse_hostport(turn_peer, &peer, &peerlen) != 0)
            die(0, "udp-loadgen: bad --turn-peer '%s' (want A.B.C.D:PORT or [v6]:PORT)", turn_peer);
        if (!is_loopback(&peer) && !allow_remote)
            die(0, "udp-loadgen: refusing to relay toward non-loopback %s", turn_peer);
        if (size > 65000 - TURN_CHANNEL_HEADER_LEN)
            die(0, "udp-loadgen: --size %zu leaves no room for the ChannelData header", size);
    }

    /* All CIDs, derived once. */
    uint8_t *cid_table = malloc(cids * cid_len);
    if (cid_table == NULL)
        die(errno, "malloc CID table");
    for (uint64_t i = 0; i < cids; i++) {
        derive_cid(seed, i, cid_table + i * cid_len, cid_len);
        if (peer_cids)
            cid_table[i * cid_len] &= 0x7f;
    }

    /* Sockets: one per flow, connected, so sendmmsg needs no per-message address. */
    int fds[MAX_FLOWS];
    for (size_t f = 0; f < flows; f++) {
        fds[f] = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fds[f] < 0)
            die(errno, "socket");
        set_sock_buf(fds[f], SO_SNDBUF, SO_SNDBUFFORCE, 4 << 20);
        if (connect(fds[f], (struct sockaddr *)&dst, dstlen) != 0)
            die(errno, "connect %s", target);
        if (turn_peer != NULL) {
            struct sockaddr_storage relayed;
            char relayed_text[80];
            turn_bind_channel(fds[f], &peer, TURN_CHANNEL, &relayed);
            format_hostport(&relayed, relayed_text, sizeof relayed_text);
            fprintf(stderr, "udp-loadgen: flow %zu relayed by %s from %s to %s\n", f, target, relayed_text, turn_peer);
        }
    }
    /* Over TURN every datagram starts with the same ChannelData header: one buffer, first iovec. */
    uint8_t channel_header[TURN_CHANNEL_HEADER_LEN];
    turn_channel_header(channel_header, TURN_CHANNEL, (uint16_t)size);
    size_t iov_per_msg = turn_peer != NULL ? 2 : 1;

    /* Batch buffers pre-filled with the payload pattern; per packet only the first byte, DCID and
     * sequence change. */
    uint8_t *bufs = malloc(batch * size);
    struct mmsghdr *msgs = calloc(batch, sizeof *msgs);
    struct iovec *iovs = calloc(batch * iov_per_msg, sizeof *iovs);
    if (bufs == NULL || msgs == NULL || iovs == NULL)
        die(errno, "malloc buffers");
    size_t payload_off = 1 + cid_len;
    for (size_t b = 0; b < batch; b++) {
        uint8_t *p = bufs + b * size;
        memset(p, 0, size);
        for (size_t k = QP_SEQ_LEN; k < size - payload_off; k++)
            p[payload_off + k] = pattern_byte(k);
        struct iovec *iov = &iovs[b * iov_per_msg];
        if (turn_peer != NULL) {
            iov->iov_base = channel_header;
            iov->iov_len = sizeof channel_header;
            iov++;
        }
        iov->iov_base = p;
        iov->iov_len = size;
        msgs[b].msg_hdr.msg_iov = &iovs[b * iov_per_msg];
        msgs[b].msg_hdr.msg_iovlen = iov_per_msg;
    }

    stop_on_signals();

    uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 0x9e3779b97f4a7c15ULL;
    if (rng == 0)
        rng = 1;
    uint64_t seq = 0, sent = 0, bytes = 0, refused = 0, retries = 0, nbatch = 0;
    double start = now_mono(), deadline = start + duration;
    struct pacer pacer;
    pacer_init(&pacer, rate, batch, start);
    pacer_set_interval(&pacer, pace);
    /* The default 50 us timer slack would stretch short pacing sleeps; 1 us keeps them close to asked. */
    if (pace < 0.001 && prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0) != 0)
        die(errno, "prctl PR_SET_TIMERSLACK");

    while (!g_stop && now_mono() < deadline) {
        size_t n = pacer_ready(&pacer, deadline);
        if (n == 0)
            continue;
        uint64_t sent_at = timestamp ? now_mono_ns() : 0;
        for (size_t b = 0; b < n; b++) {
            uint8_t *p = bufs + b * size;
            uint64_t s = seq + b;
            p[0] = (uint8_t)(0x40 | (xorshift64(&rng) & 0x3f));
            memcpy(p + 1, cid_table + (s % cids) * cid_len, cid_len);
            put_le64(p + payload_off, s);
            if (timestamp)
                put_le64(p + payload_off + QP_SEQ_LEN, sent_at);
        }
        int fd = fds[nbatch++ % flows];
        size_t done = 0;
        while (done < n && !g_stop) {
            int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
            if (r < 0) {
                if (errno == ECONNREFUSED) {
                    /* An ICMP port-unreachable from an earlier datagram (target not up yet): that
                     * datagram is lost, this one was not sent; count and go on. */
                    refused++;
                    continue;
                }
                if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) {
                    retries++;
                    if (now_mono() >= deadline)
                        break;
                    continue;
                }
                die(errno, "sendmmsg to %s", target);
            }
            done += (size_t)r;
        }
        seq += n;
        sent += done;
        bytes += done * size;
        pacer_spent(&pacer, n);
    }
    double secs = now_mono() - start;
    printf("{\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"pps\":%.1f,\"refused\":%llu,\"retries\":%llu,"
           "\"flows\":%zu,\"batch\":%zu,\"size\":%zu,\"cids\":%llu}\n",
           (unsigned long long)sent, (unsigned long long)bytes, secs, secs > 0 ? (double)sent / secs : 0.0,
           (unsigned long long)refused, (unsigned long long)retries, flows, batch, size,
           (unsigned long long)cids);
    if (fflush(stdout) != 0)
        die(errno, "write summary");
    for (size_t f = 0; f < flows; f++)
        if (close(fds[f]) != 0)
            die(errno, "close");
    free(bufs);
    free(msgs);
    free(iovs);
    free(cid_table);
    return 0;
}
