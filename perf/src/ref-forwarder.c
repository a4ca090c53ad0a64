/*
 * ref-forwarder: the C reference for QuicPipe's relay. Plain recvmmsg/sendmmsg, no GSO.
 *
 *   ref-forwarder --listen HOST:PORT --routes FILE [--cid-length 12] [--batch 64] [--threads 1]
 *                 [--duration SECONDS]
 *
 * Routes file: one "CIDHEX HOST:PORT" per line ('#' comments and blank lines ignored). Each thread
 * owns an SO_REUSEPORT socket: recvmmsg (MSG_WAITFORONE) a batch, parse the DCID (short header:
 * after byte 0; long header: after version and length byte), look it up in an open-addressing hash
 * table, sendmmsg every hit to its destination; misses are dropped and counted.
 * SIGINT/SIGTERM (or --duration) stop it; counters are printed as one JSON line on stdout.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_THREADS 64
#define SLOT 2048 /* QUIC datagrams fit in 1500-byte MTUs; bigger ones are truncated and dropped */

/* ---- routes: CID -> destination index, open addressing with linear probing ---- */

struct route_table {
    size_t cid_len;
    size_t mask;     /* capacity - 1, capacity a power of two */
    uint8_t *keys;   /* capacity * cid_len */
    uint32_t *vals;  /* destination index + 1; 0 = empty slot */
    struct sockaddr_storage *dests;
    socklen_t *dest_lens;
    size_t ndests, count;
};

static uint64_t hash_cid(const uint8_t *cid, size_t len)
{
    uint64_t h = 0x6a09e667f3bcc908ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, cid + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i < len; i++, k++)
        tail |= (uint64_t)cid[i] << (8 * k);
    h = (h ^ tail) * 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

static void table_put(struct route_table *t, const uint8_t *cid, uint32_t dest)
{
    size_t i = hash_cid(cid, t->cid_len) & t->mask;
    for (;;) {
        uint8_t *k = t->keys + i * t->cid_len;
        if (t->vals[i] == 0) {
            memcpy(k, cid, t->cid_len);
            t->vals[i] = dest + 1;
            t->count++;
            return;
        }
        if (memcmp(k, cid, t->cid_len) == 0) {
            t->vals[i] = dest + 1; /* a later line overrides an earlier one */
            return;
        }
        i = (i + 1) & t->mask;
    }
}

static int table_get(const struct route_table *t, const uint8_t *cid)
{
    size_t i = hash_cid(cid, t->cid_len) & t->mask;
    for (;;) {
        uint32_t v = t->vals[i];
        if (v == 0)
            return -1;
        if (memcmp(t->keys + i * t->cid_len, cid, t->cid_len) == 0)
            return (int)(v - 1);
        i = (i + 1) & t->mask;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void load_routes(struct route_table *t, const char *path, size_t cid_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die(errno, "ref-forwarder: cannot open routes file %s", path);
    /* Count lines first to size the table at most half full. */
    size_t lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n')
            lines++;
    if (ferror(f))
        die(errno, "ref-forwarder: reading %s", path);
    rewind(f);
    size_t cap = 16;
    while (cap < 2 * (lines + 1))
        cap <<= 1;
    memset(t, 0, sizeof *t);
    t->cid_len = cid_len;
    t->mask = cap - 1;
    t->keys = calloc(cap, cid_len);
    t->vals = calloc(cap, sizeof *t->vals);
    if (t->keys == NULL || t->vals == NULL)
        die(errno, "ref-forwarder: malloc route table (%zu slots)", cap);

    size_t dest_cap = 16;
    t->dests = malloc(dest_cap * sizeof *t->dests);
    t->dest_lens = malloc(dest_cap * sizeof *t->dest_lens);
    if (t->dests == NULL || t->dest_lens == NULL)
        die(errno, "malloc");

    char line[512];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *sp = strpbrk(p, " \t");
        if (sp == NULL)
            die(0, "ref-forwarder: %s:%zu: want 'CIDHEX HOST:PORT'", path, lineno);
        *sp = '\0';
        char *addr = sp + 1;
        while (*addr == ' ' || *addr == '\t')
            addr++;
        if (strlen(p) != 2 * cid_len)
            die(0, "ref-forwarder: %s:%zu: CID '%s' is not %zu bytes (--cid-length)", path, lineno, p, cid_len);
        uint8_t cid[QP_MAX_CID_LEN];
        for (size_t b = 0; b < cid_len; b++) {
            int hi = hexval(p[2 * b]), lo = hexval(p[2 * b + 1]);
            if (hi < 0 || lo < 0)
                die(0, "ref-forwarder: %s:%zu: CID '%s' is not hex", path, lineno, p);
            cid[b] = (uint8_t)(hi << 4 | lo);
        }
        struct sockaddr_storage sa;
        socklen_t salen;
        if (parse_hostport(addr, &sa, &salen) != 0)
            die(0, "ref-forwarder: %s:%zu: bad address '%s'", path, lineno, addr);
        /* Destinations are few (usually one sink): a linear search while loading is fine. */
        size_t d;
        for (d = 0; d < t->ndests; d++)
            if (t->dest_lens[d] == salen && memcmp(&t->dests[d], &sa, salen) == 0)
                break;
        if (d == t->ndests) {
            if (t->ndests == dest_cap) {
                dest_cap *= 2;
                t->dests = realloc(t->dests, dest_cap * sizeof *t->dests);
                t->dest_lens = realloc(t->dest_lens, dest_cap * sizeof *t->dest_lens);
                if (t->dests == NULL || t->dest_lens == NULL)
                    die(errno, "realloc");
            }
            t->dests[d] = sa;
            t->dest_lens[d] = salen;
            t->ndests++;
        }
        table_put(t, cid, (uint32_t)d);
    }
    if (ferror(f))
        die(errno, "ref-forwarder: reading %s", path);
    if (fclose(f) != 0)
        die(errno, "fclose");
}

/* ---- forwarding threads ---- */

struct worker {
    pthread_t tid;
    int fd;
    size_t batch;
    const struct route_table *routes;
    unsigned long long received, forwarded, miss, malformed, send_errors, batches;
    /* Published once per batch (relaxed stores, no locked instructions) for --stats-json. */
    _Atomic unsigned long long pub_received, pub_forwarded, pub_dropped, pub_batches;
};

static atomic_int g_workers_stop;

/* Returns a pointer to the DCID or NULL if the datagram cannot carry one of cid_len bytes. */
static const uint8_t *parse_dcid(const uint8_t *p, size_t len, size_t cid_len)
{
    if (len < 1)
        return NULL;
    if (p[0] & 0x80) {
        /* Long header: flags(1) version(4) dcid_len(1) dcid */
        if (len < 6 || p[5] != cid_len || len < 6 + cid_len)
            return NULL;
        return p + 6;
    }
    if (len < 1 + cid_len)
        return NULL;
    return p + 1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    size_t batch = w->batch, cid_len = w->routes->cid_len;
    uint8_t *bufs = malloc(batch * SLOT);
    struct mmsghdr *rx = calloc(batch, sizeof *rx), *tx = calloc(batch, sizeof *tx);
    struct iovec *rx_iov = calloc(batch, sizeof *rx_iov), *tx_iov = calloc(batch, sizeof *tx_iov);
    if (bufs == NULL || rx == NULL || tx == NULL || rx_iov == NULL || tx_iov == NULL)
        die(errno, "ref-forwarder: malloc batch");
    for (size_t b = 0; b < batch; b++) {
        rx_iov[b].iov_base = bufs + b * SLOT;
        rx_iov[b].iov_len = SLOT;
        rx[b].msg_hdr.msg_iov = &rx_iov[b];
        rx[b].msg_hdr.msg_iovlen = 1;
        tx[b].msg_hdr.msg_iov = &tx_iov[b];
        tx[b].msg_hdr.msg_iovlen = 1;
    }
    while (!atomic_load_explicit(&g_workers_stop, memory_order_relaxed)) {
        int r = recvmmsg(w->fd, rx, (unsigned)batch, MSG_WAITFORONE, NULL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue; /* receive timeout: look at the stop flag */
            die(errno, "ref-forwarder: recvmmsg");
        }
        w->batches++;
        w->received += (unsigned)r;
        size_t n = 0;
        for (int b = 0; b < r; b++) {
            const uint8_t *p = rx_iov[b].iov_base;
            size_t len = rx[b].msg_len;
            const uint8_t *dcid = (rx[b].msg_hdr.msg_flags & MSG_TRUNC) ? NULL : parse_dcid(p, len, cid_len);
            if (dcid == NULL) {
                w->malformed++;
                continue;
            }
            int d = table_get(w->routes, dcid);
            if (d < 0) {
                w->miss++;
                continue;
            }
            tx_iov[n].iov_base = rx_iov[b].iov_base;
            tx_iov[n].iov_len = len;
            tx[n].msg_hdr.msg_name = (void *)&w->routes->dests[d];
            tx[n].msg_hdr.msg_namelen = w->routes->dest_lens[d];
            n++;
        }
        size_t done = 0;
        while (done < n) {
            int s = sendmmsg(w->fd, tx + done, (unsigned)(n - done), 0);
            if (s < 0) {
                if ((errno == EINTR || errno == EAGAIN || errno == ENOBUFS) &&
                    !atomic_load_explicit(&g_workers_stop, memory_order_relaxed))
                    continue;
                /* e.g. ECONNREFUSED/EPERM for the datagram at tx[done]: drop it, go on. */
                w->send_errors++;
                done++;
                continue;
            }
            done += (size_t)s;
            w->forwarded += (unsigned)s;
        }
        atomic_store_explicit(&w->pub_received, w->received, memory_order_relaxed);
        atomic_store_explicit(&w->pub_forwarded, w->forwarded, memory_order_relaxed);
        atomic_store_explicit(&w->pub_dropped, w->miss + w->malformed + w->send_errors, memory_order_relaxed);
        atomic_store_explicit(&w->pub_batches, w->batches, memory_order_relaxed);
    }
    free(bufs);
    free(rx);
    free(tx);
    free(rx_iov);
    free(tx_iov);
    return NULL;
}

static void usage(FILE *f)
{
    fputs("Usage: ref-forwarder --listen HOST:PORT --routes FILE [options]\n"
          "\n"
          "C reference QUIC CID forwarder: recvmmsg -> parse DCID -> hash lookup -> sendmmsg (no GSO).\n"
          "\n"
          "  --listen HOST:PORT  address to bind (IPv4 or [IPv6]); every thread binds it with SO_REUSEPORT\n"
          "  --routes FILE       lines 'CIDHEX HOST:PORT' (udp-loadgen routes writes them)\n"
          "  --cid-length L      DCID length, 1..20 (default 12)\n"
          "  --batch B           datagrams per recvmmsg/sendmmsg, 1..1024 (default 64)\n"
          "  --threads N         forwarding threads (default 1)\n"
          "  --rcvbuf BYTES      SO_RCVBUF(FORCE) per socket (default 4194304, the relay's default)\n"
          "  --sndbuf BYTES      SO_SNDBUF(FORCE) per socket (default 4194304, the relay's default)\n"
          "  --duration SECONDS  stop by itself after this long (default 0 = until SIGINT/SIGTERM)\n"
          "  --stats-json        print cumulative counters once per second on stderr, in the relay's\n"
          "                      --stats-format json schema (GC and GSO fields are 0)\n"
          "\n"
          "Prints 'ref-forwarder: ready' on stderr once listening, and a JSON counters line on stdout at exit.\n",
          f);
}

int main(int argc, char **argv)
{
    const char *listen_addr = NULL, *routes_path = NULL;
    size_t cid_len = 12, batch = 64, threads = 1;
    size_t rcvbuf = 4 << 20, sndbuf = 4 << 20;
    double duration = 0;
    int stats_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--listen")) { if (!v) die(0, "--listen needs a value"); listen_addr = v; i++; }
        else if (!strcmp(a, "--routes")) { if (!v) die(0, "--routes needs a value"); routes_path = v; i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else if (!strcmp(a, "--batch")) { batch = parse_u64(a, v, 1, MAX_BATCH); i++; }
        else if (!strcmp(a, "--threads")) { threads = parse_u64(a, v, 1, MAX_THREADS); i++; }
        else if (!strcmp(a, "--rcvbuf")) { rcvbuf = parse_u64(a, v, 4096, 1 << 30); i++; }
        else if (!strcmp(a, "--sndbuf")) { sndbuf = parse_u64(a, v, 4096, 1 << 30); i++; }
        else if (!strcmp(a, "--duration")) { duration = parse_double(a, v, 0, 86400); i++; }
        else if (!strcmp(a, "--stats-json")) { stats_json = 1; }
        else die(0, "ref-forwarder: unknown option '%s' (try --help)", a);
    }
    if (listen_addr == NULL || routes_path == NULL)
        die(0, "ref-forwarder: --listen and --routes are required (try --help)");
    struct sockaddr_storage sa;
    socklen_t salen;
    if (parse_hostport(listen_addr, &sa, &salen) != 0)
        die(0, "ref-forwarder: bad --listen '%s'", listen_addr);

    struct route_table routes;
    double t0 = now_mono();
    load_routes(&routes, routes_path, cid_len);
    fprintf(stderr, "ref-forwarder: %zu routes, %zu destinations loaded in %.3f s\n", routes.count,
            routes.ndests, now_mono() - t0);

    /* Block the stop signals in every thread; the main thread waits for them with sigtimedwait. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    int rc = pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    if (rc != 0)
        die(rc, "pthread_sigmask");

    struct worker *workers = calloc(threads, sizeof *workers);
    if (workers == NULL)
        die(errno, "malloc");
    for (size_t i = 0; i < threads; i++) {
        struct worker *w = &workers[i];
        w->batch = batch;
        w->routes = &routes;
        w->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (w->fd < 0)
            die(errno, "socket");
        int one = 1;
        if (setsockopt(w->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            die(errno, "setsockopt SO_REUSEPORT");
        set_sock_buf(w->fd, SO_RCVBUF, SO_RCVBUFFORCE, (int)rcvbuf);
        set_sock_buf(w->fd, SO_SNDBUF, SO_SNDBUFFORCE, (int)sndbuf);
        struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
        if (setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
            die(errno, "setsockopt SO_RCVTIMEO");
        if (bind(w->fd, (struct sockaddr *)&sa, salen) != 0)
            die(errno, "ref-forwarder: bind %s", listen_addr);
    }
    for (size_t i = 0; i < threads; i++) {
        rc = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
        if (rc != 0)
            die(rc, "pthread_create");
    }
    fprintf(stderr, "ref-forwarder: ready on %s, %zu thread(s), batch %zu\n", listen_addr, threads, batch);

    double start = now_mono(), next_stats = start + 1;
    for (;;) {
        if (stats_json && now_mono() >= next_stats) {
            unsigned long long rcv = 0, fwd = 0, drp = 0, bat = 0;
            for (size_t i = 0; i < threads; i++) {
                rcv += atomic_load_explicit(&workers[i].pub_received, memory_order_relaxed);
                fwd += atomic_load_explicit(&workers[i].pub_forwarded, memory_order_relaxed);
                drp += atomic_load_explicit(&workers[i].pub_dropped, memory_order_relaxed);
                bat += atomic_load_explicit(&workers[i].pub_batches, memory_order_relaxed);
            }
            fprintf(stderr,
                    "{\"uptime_s\":%.3f,\"received\":%llu,\"forwarded\":%llu,\"dropped\":%llu,\"batches\":%llu,"
                    "\"gso_sends\":0,\"gso_segments\":0,\"gc0\":0,\"gc1\":0,\"gc2\":0,\"allocated_bytes\":0}\n",
                    now_mono() - start, rcv, fwd, drp, bat);
            next_stats += 1;
        }
        struct timespec wait = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int sig = sigtimedwait(&stop_sigs, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            die(errno, "sigtimedwait");
        if (duration > 0 && now_mono() - start >= duration)
            break;
    }
    atomic_store(&g_workers_stop, 1);
    unsigned long long received = 0, forwarded = 0, miss = 0, malformed = 0, send_errors = 0, batches = 0;
    for (size_t i = 0; i < threads; i++) {
        rc = pthread_join(workers[i].tid, NULL);
        if (rc != 0)
            die(rc, "pthread_join");
        struct worker *w = &workers[i];
        received += w->received;
        forwarded += w->forwarded;
        miss += w->miss;
        malformed += w->malformed;
        send_errors += w->send_errors;
        batches += w->batches;
        if (close(w->fd) != 0)
            die(errno, "close");
    }
    printf("{\"seconds\":%.3f,\"received\":%llu,\"forwarded\":%llu,\"dropped\":%llu,\"dropped_miss\":%llu,"
           "\"dropped_malformed\":%llu,\"send_errors\":%llu,\"batches\":%llu,\"avg_batch\":%.2f}\n",
           now_mono() - start, received, forwarded, miss + malformed + send_errors, miss, malformed, send_errors,
           batches, batches ? (double)received / (double)batches : 0.0);
    if (fflush(stdout) != 0)
        die(errno, "write stdout");
    free(workers);
    free(routes.keys);
    free(routes.vals);
    free(routes.dests);
    free(routes.dest_lens);
    return 0;
}
