/*
 * pkt-loadgen: QUIC short-header load generator that writes whole Ethernet frames into an AF_PACKET
 * TX ring (TPACKET_V2, PACKET_QDISC_BYPASS), for the netns lab of xdp-vs-userspace.sh.
 *
 *   pkt-loadgen --dev IFACE --dst-mac MAC --src A.B.C.D --target A.B.C.D:PORT --duration S
 *               [--cids N] [--cid-length L] [--seed S] [--size BYTES] [--rate PPS] [--batch B]
 *               [--flows F] [--src-port P] [--threads T] [--peer-cids] [--random-cids]
 *
 * Why not udp-loadgen: its sendmmsg walks the whole UDP/IP stack (socket, route, neighbour, qdisc)
 * per datagram, which on a 2-core machine costs more than the relay path under test. Here a datagram
 * is a 42-byte header copy and three small stores into a shared ring, and the kernel hands the frame
 * straight to the driver.
 *
 * Same traffic as udp-loadgen with the same --cids/--cid-length/--seed/--size/--peer-cids: the UDP
 * payload is byte 0 = 0x40 | random 6 bits, the DCID of CID index (sequence % cids), an 8-byte
 * little-endian sequence number, then pattern_byte(k); --flows source ports used round-robin per
 * batch. With T threads, thread t sends sequences t, t+T, t+2T, ... over its own socket and ring.
 *
 * IPv4 only. The IPv4 header checksum is computed (the header is constant per flow: ID 0 with DF
 * set). The UDP checksum is 0, which IPv4 allows (RFC 768: "no checksum"); receivers accept it and
 * the relay's XDP program keeps a 0 as 0 when it rewrites.
 *
 * It refuses to run in the initial network namespace: raw frames go only into a lab's namespace.
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_FLOWS 256
#define MAX_THREADS 64
#define FRAME_SIZE 2048u  /* one MTU-sized frame plus the tpacket2 header */
#define BLOCK_SIZE 65536u /* 32 frames per block */
#define HDR_LEN (sizeof(struct ether_header) + sizeof(struct iphdr) + sizeof(struct udphdr))
/* Where a TX frame's data starts in its slot (no PACKET_TX_HAS_OFF): after the aligned header. */
#define DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket2_hdr))


static void usage(FILE *f)
{
    fputs("Usage: pkt-loadgen --dev IFACE --dst-mac MAC --src A.B.C.D --target A.B.C.D:PORT --duration S [options]\n"
          "\n"
          "Writes Ethernet/IPv4/UDP frames carrying QUIC short headers into an AF_PACKET TX ring on IFACE\n"
          "(TPACKET_V2, qdisc bypass), cycling over N deterministic CIDs exactly as udp-loadgen does.\n"
          "Prints a JSON summary line. Only runs inside a network namespace other than the initial one.\n"
          "\n"
          "Options:\n"
          "  --dev IFACE          interface to send on (its MAC is the source MAC)\n"
          "  --dst-mac MAC        destination MAC (the peer's interface), aa:bb:cc:dd:ee:ff\n"
          "  --src A.B.C.D        source IPv4 address\n"
          "  --target A.B.C.D:PORT destination IPv4 address and UDP port\n"
          "  --duration SECONDS   mandatory bound on the run time (max 3600)\n"
          "  --cids N             distinct CIDs to cycle over (default 1000)\n"
          "  --cid-length L       DCID length in bytes, 1..20 (default 12)\n"
          "  --seed S             seed of the CID derivation (default 1)\n"
          "  --size BYTES         UDP payload (datagram) size, up to 1472: one 1500-byte MTU (default 1200)\n"
          "  --rate PPS           packets per second over all threads, token-bucket paced; 0 = as fast as possible\n"
          "  --batch B            frames per ring kick, 1..1024 (default 64)\n"
          "  --flows F            source ports P..P+F-1, round-robin per batch (default 4)\n"
          "  --src-port P         first source port (default 40000)\n"
          "  --threads T          sending threads, each with its own socket and ring (default 1)\n"
          "  --peer-cids          clear the top bit of every CID's first byte (as udp-loadgen --peer-cids)\n"
          "  --random-cids        each frame's CID index is a hash of its sequence number, not the sequence\n"
          "                       modulo N: every CID as often, in no order (a table's memory order cannot\n"
          "                       follow the traffic's, as it can when routes are added in the order sent)\n"
          "\n"
          "Summary: {\"sent\":frames queued to the ring,\"bytes\":UDP payload bytes,\"seconds\",\"pps\",\n"
          "  \"kick_errors\":sends the kernel refused (frames it dropped, e.g. a full veth ring),\"threads\",...}\n",
          f);
}

struct gen_config {
    int ifindex;
    uint8_t src_mac[6], dst_mac[6];
    struct in_addr src, dst;
    uint16_t dst_port, src_port;
    uint64_t cids, seed;
    size_t cid_len, size, batch, flows;
    unsigned threads;
    int peer_cids, random_cids;
    double rate, duration;
    const uint8_t *cid_table;
    double start;
};

struct gen_thread {
    pthread_t tid;
    unsigned index;
    const struct gen_config *cfg;
    uint64_t sent, kick_errors, ring_full_waits;
};

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return -1;
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

static uint16_t ipv4_checksum(const void *hdr, size_t len)
{
    const uint8_t *p = hdr;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* The 42 bytes before the payload for flow f; only the source port differs between flows. */
static void build_header(const struct gen_config *c, size_t flow, uint8_t *out)
{
    struct ether_header eth;
    memcpy(eth.ether_dhost, c->dst_mac, 6);
    memcpy(eth.ether_shost, c->src_mac, 6);
    eth.ether_type = htons(ETHERTYPE_IP);

    struct iphdr ip;
    memset(&ip, 0, sizeof ip);
    ip.version = 4;
    ip.ihl = 5;
    ip.tot_len = htons((uint16_t)(sizeof ip + sizeof(struct udphdr) + c->size));
    ip.frag_off = htons(IP_DF);
    ip.ttl = 64;
    ip.protocol = IPPROTO_UDP;
    ip.saddr = c->src.s_addr;
    ip.daddr = c->dst.s_addr;
    ip.check = ipv4_checksum(&ip, sizeof ip);

    struct udphdr udp;
    udp.source = htons((uint16_t)(c->src_port + flow));
    udp.dest = htons(c->dst_port);
    udp.len = htons((uint16_t)(sizeof udp + c->size));
    udp.check = 0; /* IPv4: no checksum */

    memcpy(out, &eth, sizeof eth);
    memcpy(out + sizeof eth, &ip, sizeof ip);
    memcpy(out + sizeof eth + sizeof ip, &udp, sizeof udp);
}

static void *gen_run(void *arg)
{
    struct gen_thread *th = arg;
    const struct gen_config *c = th->cfg;

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: send only, no receive hook */
    if (fd < 0)
        die(errno, "socket(AF_PACKET)");
    int one = 1, version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0)
        die(errno, "setsockopt PACKET_VERSION");
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0)
        die(errno, "setsockopt PACKET_QDISC_BYPASS");
    /* A frame the kernel cannot send is skipped instead of stopping the ring (none should be). */
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) != 0)
        die(errno, "setsockopt PACKET_LOSS");
    struct tpacket_req req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = 256,
        .tp_frame_size = FRAME_SIZE,
        .tp_frame_nr = 256 * (BLOCK_SIZE / FRAME_SIZE),
    };
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0)
        die(errno, "setsockopt PACKET_TX_RING");
    size_t ring_len = (size_t)req.tp_block_size * req.tp_block_nr, nframes = req.tp_frame_nr;
    uint8_t *ring = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED)
        die(errno, "mmap TX ring");
    struct sockaddr_ll ll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_IP),
        .sll_ifindex = c->ifindex,
        .sll_halen = 6,
    };
    memcpy(ll.sll_addr, c->dst_mac, 6);
    struct sockaddr_ll bind_ll = {.sll_family = AF_PACKET, .sll_protocol = 0, .sll_ifindex = c->ifindex};
    if (bind(fd, (struct sockaddr *)&bind_ll, sizeof bind_ll) != 0)
        die(errno, "bind AF_PACKET to ifindex %d", c->ifindex);

    /* Every slot pre-filled with a whole frame (flow 0 header, payload pattern); per frame only the
     * source port's header, QUIC byte 0, the DCID and the sequence are written. */
    uint8_t headers[MAX_FLOWS][HDR_LEN];
    for (size_t f = 0; f < c->flows; f++)
        build_header(c, f, headers[f]);
    size_t frame_len = HDR_LEN + c->size, payload_off = 1 + c->cid_len;
    for (size_t i = 0; i < nframes; i++) {
        uint8_t *p = ring + i * FRAME_SIZE + DATA_OFF;
        memcpy(p, headers[0], HDR_LEN);
        uint8_t *q = p + HDR_LEN;
        memset(q, 0, c->size);
        for (size_t k = QP_SEQ_LEN; k < c->size - payload_off; k++)
            q[payload_off + k] = pattern_byte(k);
    }

    uint64_t rng = (c->seed + th->index) * 0x2545f4914f6cdd1dULL + 0x9e3779b97f4a7c15ULL;
    if (rng == 0)
        rng = 1;
    double rate = c->rate / c->threads;
    double deadline = c->start + c->duration;
    struct pacer pacer;
    pacer_init(&pacer, rate, c->batch, c->start);
    uint64_t seq = th->index, head = 0, nbatch = 0;

    while (!g_stop && now_mono() < deadline) {
        size_t n = pacer_ready(&pacer, deadline);
        if (n == 0)
            continue;
        const uint8_t *hdr = headers[nbatch++ % c->flows];
        size_t filled = 0;
        for (; filled < n; filled++) {
            uint8_t *slot = ring + (head % nframes) * FRAME_SIZE;
            struct tpacket2_hdr *tp = (struct tpacket2_hdr *)slot;
            if (__atomic_load_n(&tp->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
                break; /* the kernel still holds it: the receiver has not freed that frame yet */
            uint8_t *p = slot + DATA_OFF;
            memcpy(p, hdr, HDR_LEN);
            uint8_t *q = p + HDR_LEN;
            q[0] = (uint8_t)(0x40 | (xorshift64(&rng) & 0x3f));
            uint64_t mixed = seq; /* splitmix64 is a bijection: consecutive frames get unrelated CIDs */
            uint64_t index = (c->random_cids ? splitmix64(&mixed) : seq) % c->cids;
            memcpy(q + 1, c->cid_table + index * c->cid_len, c->cid_len);
            put_le64(q + payload_off, seq);
            tp->tp_len = (uint32_t)frame_len;
            __atomic_store_n(&tp->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
            head++;
            seq += c->threads;
        }
        if (filled > 0) {
            if (sendto(fd, NULL, 0, MSG_DONTWAIT, (struct sockaddr *)&ll, sizeof ll) < 0) {
                if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
                    die(errno, "sendto (TX ring kick) on ifindex %d", c->ifindex);
                th->kick_errors++;
            }
            th->sent += filled;
            pacer_spent(&pacer, filled);
        }
        if (filled < n) {
            /* Ring full: wait until the kernel frees a slot (POLLOUT), bounded so the deadline holds. */
            th->ring_full_waits++;
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
                die(errno, "poll");
        }
    }
    /* Let the last kicked frames leave before the ring is unmapped (bounded). */
    for (int i = 0; i < 100; i++) {
        struct tpacket2_hdr *tp = (struct tpacket2_hdr *)(ring + ((head + nframes - 1) % nframes) * FRAME_SIZE);
        if (head == 0 || __atomic_load_n(&tp->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_AVAILABLE)
            break;
        sleep_seconds(0.001, &g_stop);
    }
    if (munmap(ring, ring_len) != 0)
        die(errno, "munmap");
    if (close(fd) != 0)
        die(errno, "close");
    return NULL;
}

/* The initial network namespace, from kthreadd's (pid 2: kernel threads live in the initial namespaces),
 * else init's (pid 1 can be unreadable even to root, e.g. a VM's init agent). */
static void init_netns(struct stat *st)
{
    char comm[32] = "";
    FILE *f = fopen("/proc/2/comm", "r");
    if (f != NULL) {
        if (fgets(comm, sizeof comm, f) == NULL)
            comm[0] = '\0';
        fclose(f);
    }
    if (!strcmp(comm, "kthreadd\n") && stat("/proc/2/ns/net", st) == 0)
        return;
    if (stat("/proc/1/ns/net", st) != 0)
        die(errno, "stat /proc/1/ns/net (needs root)");
}

static void require_lab_namespace(void)
{
    struct stat self, init;
    if (stat("/proc/self/ns/net", &self) != 0)
        die(errno, "stat /proc/self/ns/net");
    init_netns(&init);
    if (self.st_ino == init.st_ino && self.st_dev == init.st_dev)
        die(0, "pkt-loadgen: refusing to send raw frames in the initial network namespace (run it in a lab's, "
               "e.g. ip netns exec NS pkt-loadgen ...)");
}

int main(int argc, char **argv)
{
    struct gen_config c = {
        .cids = 1000, .seed = 1, .cid_len = 12, .size = 1200, .batch = 64, .flows = 4, .threads = 1,
        .src_port = 40000, .duration = -1,
    };
    const char *dev = NULL, *dst_mac = NULL, *src = NULL, *target = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--dev")) { if (!v) die(0, "--dev needs a value"); dev = v; i++; }
        else if (!strcmp(a, "--dst-mac")) { if (!v) die(0, "--dst-mac needs a value"); dst_mac = v; i++; }
        else if (!strcmp(a, "--src")) { if (!v) die(0, "--src needs a value"); src = v; i++; }
        else if (!strcmp(a, "--target")) { if (!v) die(0, "--target needs a value"); target = v; i++; }
        else if (!strcmp(a, "--duration")) { c.duration = parse_double(a, v, 0.001, 3600); i++; }
        else if (!strcmp(a, "--cids")) { c.cids = parse_u64(a, v, 1, 100000000); i++; }
        else if (!strcmp(a, "--cid-length")) { c.cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else if (!strcmp(a, "--seed")) { c.seed = parse_u64(a, v, 0, UINT64_MAX); i++; }
        else if (!strcmp(a, "--size")) { c.size = parse_u64(a, v, 1, 1472); i++; }
        else if (!strcmp(a, "--rate")) { c.rate = parse_double(a, v, 0, 1e9); i++; }
        else if (!strcmp(a, "--batch")) { c.batch = parse_u64(a, v, 1, MAX_BATCH); i++; }
        else if (!strcmp(a, "--flows")) { c.flows = parse_u64(a, v, 1, MAX_FLOWS); i++; }
        else if (!strcmp(a, "--src-port")) { c.src_port = (uint16_t)parse_u64(a, v, 1, 65535 - MAX_FLOWS); i++; }
        else if (!strcmp(a, "--threads")) { c.threads = (unsigned)parse_u64(a, v, 1, MAX_THREADS); i++; }
        else if (!strcmp(a, "--peer-cids")) { c.peer_cids = 1; }
        else if (!strcmp(a, "--random-cids")) { c.random_cids = 1; }
        else die(0, "pkt-loadgen: unknown option '%s' (try --help)", a);
    }
    if (dev == NULL || dst_mac == NULL || src == NULL || target == NULL)
        die(0, "pkt-loadgen: --dev, --dst-mac, --src and --target are required (try --help)");
    if (c.duration < 0)
        die(0, "pkt-loadgen: --duration SECONDS is required: every load must stop by itself");
    if (c.size < 1 + c.cid_len + QP_SEQ_LEN)
        die(0, "pkt-loadgen: --size %zu is too small for a 1-byte header, a %zu-byte CID and an 8-byte sequence",
            c.size, c.cid_len);
    if (parse_mac(dst_mac, c.dst_mac) != 0)
        die(0, "pkt-loadgen: bad --dst-mac '%s'", dst_mac);
    if (inet_pton(AF_INET, src, &c.src) != 1)
        die(0, "pkt-loadgen: bad --src '%s' (want A.B.C.D)", src);
    struct sockaddr_storage dst;
    socklen_t dstlen;
    if (parse_hostport(target, &dst, &dstlen) != 0 || dst.ss_family != AF_INET)
        die(0, "pkt-loadgen: bad --target '%s' (want A.B.C.D:PORT)", target);
    c.dst = ((struct sockaddr_in *)&dst)->sin_addr;
    c.dst_port = ntohs(((struct sockaddr_in *)&dst)->sin_port);
    require_lab_namespace();

    c.ifindex = (int)if_nametoindex(dev);
    if (c.ifindex == 0)
        die(errno, "pkt-loadgen: no interface '%s'", dev);
    int ifd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev);
    if (ifd < 0 || ioctl(ifd, SIOCGIFHWADDR, &ifr) != 0)
        die(errno, "SIOCGIFHWADDR %s", dev);
    memcpy(c.src_mac, ifr.ifr_hwaddr.sa_data, 6);
    close(ifd);

    uint8_t *cid_table = malloc(c.cids * c.cid_len);
    if (cid_table == NULL)
        die(errno, "malloc CID table");
    for (uint64_t i = 0; i < c.cids; i++) {
        derive_cid(c.seed, i, cid_table + i * c.cid_len, c.cid_len);
        if (c.peer_cids)
            cid_table[i * c.cid_len] &= 0x7f;
    }
    c.cid_table = cid_table;

    stop_on_signals();

    struct gen_thread th[MAX_THREADS];
    memset(th, 0, sizeof th);
    c.start = now_mono();
    for (unsigned t = 0; t < c.threads; t++) {
        th[t].index = t;
        th[t].cfg = &c;
        int err = pthread_create(&th[t].tid, NULL, gen_run, &th[t]);
        if (err != 0)
            die(err, "pthread_create");
    }
    uint64_t sent = 0, kick_errors = 0, waits = 0;
    for (unsigned t = 0; t < c.threads; t++) {
        int err = pthread_join(th[t].tid, NULL);
        if (err != 0)
            die(err, "pthread_join");
        sent += th[t].sent;
        kick_errors += th[t].kick_errors;
        waits += th[t].ring_full_waits;
    }
    double secs = now_mono() - c.start;
    printf("{\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"pps\":%.1f,\"kick_errors\":%llu,\"ring_full_waits\":%llu,"
           "\"threads\":%u,\"flows\":%zu,\"batch\":%zu,\"size\":%zu,\"cids\":%llu}\n",
           (unsigned long long)sent, (unsigned long long)(sent * c.size), secs, secs > 0 ? (double)sent / secs : 0.0,
           (unsigned long long)kick_errors, (unsigned long long)waits, c.threads, c.flows, c.batch, c.size,
           (unsigned long long)c.cids);
    if (fflush(stdout) != 0)
        die(errno, "write summary");
    free(cid_table);
    return 0;
}
