/*
 * xdp-prog-bench: the relay's XDP program's cost per packet, without a lab (BPF_PROG_TEST_RUN).
 *
 *   xdp-prog-bench --object quicpipe_xdp.o --routes N [--capacity C] [--frames M] [--runs R] [--size BYTES]
 *
 * Loads the program as the relay's loader does (route table sized for C routes, two slots or more per
 * route; CID length, slot mask and a random hash key set in .rodata), fills the table through its mmap
 * with N routes placed as QuicPipe.Xdp's RouteSlotTable places them (the same hash, bpf/quicpipe_hash.h;
 * Robin Hood linear probing within QP_ROUTE_PROBES slots), builds M Ethernet/IPv4/UDP frames whose CIDs are routes
 * chosen at random (so lookups walk the table as many flows would, not one hot entry), turns on the
 * kernel's BPF run-time statistics (bpf_enable_stats) and runs the program R times over the frames, one
 * BPF_PROG_TEST_RUN each; every run must return XDP_TX. Prints one JSON line: the program's run_time_ns /
 * run_cnt (what kernel.bpf_stats_enabled reports for a live relay) and, for comparison, the same frame
 * repeated (every lookup hitting the cache).
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../bpf/quicpipe_structs.h"
#include "../../bpf/quicpipe_hash.h"

#define RELAY_PORT 4433
#define RELAY_ADDR 0xc0000202u /* 192.0.2.2 */

static void usage(FILE *f)
{
    fputs("Usage: xdp-prog-bench --object PATH --routes N [options]   (needs root)\n"
          "\n"
          "Runs the relay's XDP program over routed frames with BPF_PROG_TEST_RUN and reports the kernel's\n"
          "run_time_ns / run_cnt for it (one JSON line).\n"
          "\n"
          "Options:\n"
          "  --object PATH      the compiled program (src/QuicPipe.Xdp/obj/bpf/quicpipe_xdp.o after a build)\n"
          "  --routes N         routes in the table (1..16777216)\n"
          "  --capacity C       routes the table is sized for, as the loader's RouteCapacity: slots = the\n"
          "                     next power of two >= 2C, at least 16; 64 bytes each (default 2097152)\n"
          "  --frames M         distinct frames, each with a random routed CID (default min(N, 262144));\n"
          "                     routes whose probe window was full are not offloaded and get no frame\n"
          "  --runs R           program runs, one test run each (default 2000000)\n"
          "  --size BYTES       frame size, Ethernet header included (default 256)\n"
          "  --cid-length L     CID length (default 12)\n",
          f);
}

/* Slots for `capacity` routes: the next power of two at or above twice it, at least two windows. */
static uint64_t slots_for(uint64_t capacity)
{
    uint64_t slots = 2 * QP_ROUTE_PROBES;
    while (slots < 2 * capacity)
        slots <<= 1;
    return slots;
}

static void route_key(uint64_t index, size_t cid_len, uint8_t key[QP_MAX_CID_LEN])
{
    memset(key, 0, QP_MAX_CID_LEN);
    derive_cid(1, index, key, cid_len);
    key[0] &= 0x7f; /* the peer namespace: the relay keeps CIDs with the top bit for itself */
}

static uint64_t home_of(const struct qp_config *config, const uint8_t *cid, uint64_t mask)
{
    struct qp_cid_words words = qp_cid_words_of(cid);
    return (uint32_t)qp_cid_hash(config->hash_key[0], config->hash_key[1], &words) & mask;
}

/*
 * Puts route `index` where RouteSlotTable.TrySet puts a new CID (nothing reads the table yet, so no seqlock): in Robin
 * Hood order, at the first slot of its window that is empty or holds a route whose home is after its own, the run from
 * there to the next empty slot moving one slot on. False when that would take a route past its window: not offloaded.
 */
static int put_route(struct qp_route_slot *table, uint64_t mask, const struct qp_config *config, uint64_t index,
                     size_t cid_len)
{
    uint8_t key[QP_MAX_CID_LEN];
    route_key(index, cid_len, key);
    uint64_t home = home_of(config, key, mask), at = 0, end;
    int found = 0;
    for (uint64_t i = 0; i < QP_ROUTE_PROBES && !found; i++) {
        at = (home + i) & mask;
        found = table[at].state != QP_SLOT_USED || ((at - home_of(config, table[at].cid, mask)) & mask) < i;
    }
    if (!found)
        return 0;
    for (end = at; table[end].state == QP_SLOT_USED; end = (end + 1) & mask)
        if (((end - home_of(config, table[end].cid, mask)) & mask) + 1 >= QP_ROUTE_PROBES || ((end + 1) & mask) == at)
            return 0;
    for (; end != at; end = (end - 1) & mask)
        table[end] = table[(end - 1) & mask];

    struct qp_route_slot *slot = &table[at];
    memset(slot, 0, sizeof *slot);
    memcpy(slot->cid, key, QP_MAX_CID_LEN);
    slot->route.family = QP_AF_INET;
    uint32_t peer = htonl(0x0a000000u | (uint32_t)(index & 0xffffff)); /* 10.x.y.z, never sent to */
    memcpy(slot->route.peer_addr, &peer, 4);
    /*
     * The repeated run rewrites one buffer in place, so a frame must stay routable after its own rewrite: sent to the
     * relay port, and from an explicit relay address, not its destination (which would make the second rewrite's
     * source the peer itself: a reflection, passed).
     */
    slot->route.peer_port = htons(RELAY_PORT);
    uint32_t relay = htonl(RELAY_ADDR);
    memcpy(slot->route.relay_addr, &relay, 4);
    slot->state = QP_SLOT_USED;
    return 1;
}

static void build_frame(uint8_t *frame, size_t size, uint64_t route_index, size_t cid_len)
{
    memset(frame, 0, size);
    struct ethhdr *eth = (struct ethhdr *)frame;
    memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
    memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
    eth->h_proto = htons(ETH_P_IP);
    struct iphdr *ip = (struct iphdr *)(eth + 1);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons((uint16_t)(size - sizeof *eth));
    ip->saddr = htonl(0xc0000201u); /* 192.0.2.1 */
    ip->daddr = htonl(RELAY_ADDR);
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    udp->source = htons(40000);
    udp->dest = htons(RELAY_PORT);
    udp->len = htons((uint16_t)(size - sizeof *eth - sizeof *ip));
    udp->check = 0; /* no checksum: what is measured is parse, lookup and rewrite */
    uint8_t *quic = (uint8_t *)(udp + 1);
    quic[0] = 0x40;
    uint8_t key[QP_MAX_CID_LEN];
    route_key(route_index, cid_len, key);
    memcpy(quic + 1, key, cid_len);
}

static struct bpf_prog_info prog_info(int fd)
{
    struct bpf_prog_info info;
    uint32_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
        die(errno, "bpf_obj_get_info_by_fd");
    return info;
}

int main(int argc, char **argv)
{
    const char *object = NULL;
    uint64_t routes = 0, capacity = 2097152, frames = 0, runs = 2000000;
    size_t size = 256, cid_len = 12;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--object")) { if (!v) die(0, "--object needs a value"); object = v; i++; }
        else if (!strcmp(a, "--routes")) { routes = parse_u64(a, v, 1, 1u << 24); i++; }
        else if (!strcmp(a, "--capacity")) { capacity = parse_u64(a, v, 1, 1u << 26); i++; }
        else if (!strcmp(a, "--frames")) { frames = parse_u64(a, v, 1, 1u << 22); i++; }
        else if (!strcmp(a, "--runs")) { runs = parse_u64(a, v, 1, 1000000000); i++; }
        else if (!strcmp(a, "--size")) { size = parse_u64(a, v, 64, 1514); i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else die(0, "xdp-prog-bench: unknown option '%s' (try --help)", a);
    }
    if (object == NULL || routes == 0)
        die(0, "xdp-prog-bench: --object PATH and --routes N are required (try --help)");
    if (capacity < routes)
        die(0, "xdp-prog-bench: --capacity %llu is below --routes %llu", (unsigned long long)capacity,
            (unsigned long long)routes);
    if (frames == 0)
        frames = routes < 262144 ? routes : 262144;

    struct bpf_object *obj = bpf_object__open_file(object, NULL);
    if (obj == NULL)
        die(errno, "bpf_object__open_file %s", object);
    struct bpf_map *route_map = bpf_object__find_map_by_name(obj, "qp_routes");
    struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
    struct bpf_map *listen_map = bpf_object__find_map_by_name(obj, "qp_listen");
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "quicpipe_xdp");
    if (!route_map || !rodata || !listen_map || !prog)
        die(0, "xdp-prog-bench: %s is not the relay's program (qp_routes, .rodata, qp_listen, quicpipe_xdp)", object);
    uint64_t slots = slots_for(capacity);
    if (bpf_map__set_max_entries(route_map, (uint32_t)slots) != 0)
        die(errno, "set qp_routes max_entries");
    size_t config_size;
    /* libbpf 1.1 returns the initial value as const, but it is the buffer load copies: writable until then. */
    struct qp_config *config = (struct qp_config *)bpf_map__initial_value(rodata, &config_size);
    if (config == NULL || config_size != sizeof *config)
        die(0, "xdp-prog-bench: .rodata is not struct qp_config (an object from before the slot table?)");
    config->cid_len = (uint8_t)cid_len;
    config->route_mask = (uint32_t)(slots - 1);
    if (getrandom(config->hash_key, sizeof config->hash_key, 0) != sizeof config->hash_key)
        die(errno, "getrandom");
    struct qp_config settings = *config; /* the copy load leaves alone */
    if (bpf_object__load(obj) != 0)
        die(errno, "bpf_object__load");

    struct qp_listen_key listen;
    memset(&listen, 0, sizeof listen);
    listen.family = QP_AF_INET;
    listen.port = htons(RELAY_PORT);
    uint8_t one = 1;
    if (bpf_map_update_elem(bpf_map__fd(listen_map), &listen, &one, BPF_ANY) != 0)
        die(errno, "insert the listener");
    /* Programs with the per-port listen bits read those first: the wildcard's, as the relay's loader sets it. */
    struct bpf_map *ports_map = bpf_object__find_map_by_name(obj, "qp_listen_ports");
    if (ports_map != NULL) {
        uint32_t port = RELAY_PORT;
        uint8_t bits = QP_LISTEN_ANY4;
        if (bpf_map_update_elem(bpf_map__fd(ports_map), &port, &bits, BPF_ANY) != 0)
            die(errno, "set the listen port's bits");
    }
    size_t table_bytes = (size_t)slots * sizeof(struct qp_route_slot);
    struct qp_route_slot *table = mmap(NULL, table_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(route_map), 0);
    if (table == MAP_FAILED)
        die(errno, "mmap qp_routes");
    uint64_t *offloaded = malloc(routes * sizeof *offloaded);
    if (offloaded == NULL)
        die(errno, "malloc routes");
    uint64_t placed = 0;
    double t0 = now_mono();
    for (uint64_t r = 0; r < routes; r++)
        if (put_route(table, slots - 1, &settings, r, cid_len))
            offloaded[placed++] = r;
    double fill_s = now_mono() - t0;
    if (placed == 0)
        die(0, "xdp-prog-bench: no route was placed");

    uint8_t *frame_bytes = malloc(frames * size);
    if (frame_bytes == NULL)
        die(errno, "malloc frames");
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (uint64_t f = 0; f < frames; f++)
        build_frame(frame_bytes + f * size, size, offloaded[xorshift64(&rng) % placed], cid_len);

    int prog_fd = bpf_program__fd(prog);
    uint8_t out[1514];
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_size_in = (uint32_t)size, .data_out = out,
                .data_size_out = sizeof out, .repeat = 1);
    /* Sanity: a routed frame is bounced. */
    opts.data_in = frame_bytes;
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
        die(errno, "bpf_prog_test_run_opts");
    if (opts.retval != XDP_TX)
        die(0, "xdp-prog-bench: a routed frame got verdict %u, not XDP_TX", opts.retval);

    int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (stats_fd < 0)
        die(errno, "bpf_enable_stats");
    struct bpf_prog_info before = prog_info(prog_fd);
    uint64_t test_ns = 0, not_tx = 0;
    t0 = now_mono();
    for (uint64_t r = 0; r < runs; r++) {
        opts.data_in = frame_bytes + (r % frames) * size;
        opts.data_size_out = sizeof out;
        if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
            die(errno, "bpf_prog_test_run_opts");
        test_ns += opts.duration;
        not_tx += opts.retval != XDP_TX;
    }
    double wall = now_mono() - t0;
    struct bpf_prog_info after = prog_info(prog_fd);

    /* The same frame over and over, inside one test run: every lookup hits the cache. */
    opts.data_in = frame_bytes;
    opts.repeat = 1000000;
    opts.data_size_out = sizeof out;
    struct bpf_prog_info hot_before = prog_info(prog_fd);
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
        die(errno, "bpf_prog_test_run_opts (repeat)");
    struct bpf_prog_info hot_after = prog_info(prog_fd);
    close(stats_fd);
    if (not_tx != 0)
        die(0, "xdp-prog-bench: %llu of %llu runs over routed frames did not return XDP_TX", (unsigned long long)not_tx,
            (unsigned long long)runs);
    if (opts.retval != XDP_TX)
        die(0, "xdp-prog-bench: the repeated frame got verdict %u, not XDP_TX", opts.retval);

    uint64_t cnt = after.run_cnt - before.run_cnt, ns = after.run_time_ns - before.run_time_ns;
    uint64_t hot_cnt = hot_after.run_cnt - hot_before.run_cnt, hot_ns = hot_after.run_time_ns - hot_before.run_time_ns;
    printf("{\"capacity\":%llu,\"slots\":%u,\"routes\":%llu,\"not_offloaded\":%llu,\"frames\":%llu,\"runs\":%llu,\"size\":%zu,"
           "\"ns_per_packet\":%.1f,\"test_run_ns_per_packet\":%.1f,\"hot_ns_per_packet\":%.1f,\"hot_test_run_ns\":%u,"
           "\"fill_seconds\":%.2f,\"wall_seconds\":%.2f}\n",
           (unsigned long long)capacity, bpf_map__max_entries(route_map), (unsigned long long)routes,
           (unsigned long long)(routes - placed), (unsigned long long)frames,
           (unsigned long long)runs, size, cnt ? (double)ns / (double)cnt : 0.0, (double)test_ns / (double)runs,
           hot_cnt ? (double)hot_ns / (double)hot_cnt : 0.0, opts.duration, fill_s, wall);
    free(frame_bytes);
    free(offloaded);
    munmap(table, table_bytes);
    bpf_object__close(obj);
    return 0;
}
