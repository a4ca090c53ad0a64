/*
 * xdp-prog-bench: the relay's XDP program's cost per packet, without a lab (BPF_PROG_TEST_RUN).
 *
 *   xdp-prog-bench --object quicpipe_xdp.o --routes N [--capacity C] [--map lru|hash|lru-percpu]
 *                  [--frames M] [--runs R] [--size BYTES]
 *
 * Loads the program as the relay's loader does (route map resized, CID length set in .rodata), fills
 * the route map with N routes, builds M Ethernet/IPv4/UDP frames whose CIDs are routes chosen at random
 * (so lookups walk the table as many flows would, not one hot entry), turns on the kernel's BPF run-time
 * statistics (bpf_enable_stats) and runs the program R times over the frames, one BPF_PROG_TEST_RUN each.
 * Prints one JSON line: the program's run_time_ns / run_cnt (what kernel.bpf_stats_enabled reports for
 * a live relay) and, for comparison, the same frame repeated (every lookup hitting the cache).
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
#include <unistd.h>

#include "../../bpf/quicpipe_structs.h"

#define RELAY_PORT 4433
#define PEER_PORT 5000

static void usage(FILE *f)
{
    fputs("Usage: xdp-prog-bench --object PATH --routes N [options]   (needs root)\n"
          "\n"
          "Runs the relay's XDP program over routed frames with BPF_PROG_TEST_RUN and reports the kernel's\n"
          "run_time_ns / run_cnt for it (one JSON line).\n"
          "\n"
          "Options:\n"
          "  --object PATH      the compiled program (src/QuicPipe.Xdp/obj/bpf/quicpipe_xdp.o after a build)\n"
          "  --routes N         routes in the map (1..16777216)\n"
          "  --capacity C       the route map's max_entries (default: the program's own, 2097152)\n"
          "  --map TYPE         route map type: lru (the program's), hash, hash-noprealloc or lru-percpu\n"
          "                     (default lru)\n"
          "  --frames M         distinct frames, each with a random routed CID (default min(N, 262144))\n"
          "  --runs R           program runs, one test run each (default 2000000)\n"
          "  --size BYTES       frame size, Ethernet header included (default 256)\n"
          "  --cid-length L     CID length (default 12)\n",
          f);
}

static void put_route(int fd, uint64_t index, size_t cid_len)
{
    struct qp_cid_key key;
    struct qp_route route;
    memset(&key, 0, sizeof key);
    memset(&route, 0, sizeof route);
    derive_cid(1, index, key.bytes, cid_len);
    key.bytes[0] &= 0x7f; /* the peer namespace: the relay keeps CIDs with the top bit for itself */
    route.family = QP_AF_INET;
    uint32_t peer = htonl(0x0a000000u | (uint32_t)(index & 0xffffff)); /* 10.x.y.z, never sent to */
    memcpy(route.peer_addr, &peer, 4);
    route.peer_port = htons(PEER_PORT);
    if (bpf_map_update_elem(fd, &key, &route, BPF_ANY) != 0)
        die(errno, "insert route %llu", (unsigned long long)index);
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
    ip->daddr = htonl(0xc0000202u); /* 192.0.2.2, the relay */
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    udp->source = htons(40000);
    udp->dest = htons(RELAY_PORT);
    udp->len = htons((uint16_t)(size - sizeof *eth - sizeof *ip));
    udp->check = 0; /* no checksum: what is measured is parse, lookup and rewrite */
    uint8_t *quic = (uint8_t *)(udp + 1);
    quic[0] = 0x40;
    derive_cid(1, route_index, quic + 1, cid_len);
    quic[1] &= 0x7f;
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
    const char *object = NULL, *map_type = "lru";
    uint64_t routes = 0, capacity = 0, frames = 0, runs = 2000000;
    size_t size = 256, cid_len = 12;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--object")) { if (!v) die(0, "--object needs a value"); object = v; i++; }
        else if (!strcmp(a, "--routes")) { routes = parse_u64(a, v, 1, 1u << 24); i++; }
        else if (!strcmp(a, "--capacity")) { capacity = parse_u64(a, v, 1, 1u << 26); i++; }
        else if (!strcmp(a, "--map")) { if (!v) die(0, "--map needs a value"); map_type = v; i++; }
        else if (!strcmp(a, "--frames")) { frames = parse_u64(a, v, 1, 1u << 22); i++; }
        else if (!strcmp(a, "--runs")) { runs = parse_u64(a, v, 1, 1000000000); i++; }
        else if (!strcmp(a, "--size")) { size = parse_u64(a, v, 64, 1514); i++; }
        else if (!strcmp(a, "--cid-length")) { cid_len = parse_u64(a, v, 1, QP_MAX_CID_LEN); i++; }
        else die(0, "xdp-prog-bench: unknown option '%s' (try --help)", a);
    }
    if (object == NULL || routes == 0)
        die(0, "xdp-prog-bench: --object PATH and --routes N are required (try --help)");
    if (capacity != 0 && capacity < routes)
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
    if (capacity != 0 && bpf_map__set_max_entries(route_map, (uint32_t)capacity) != 0)
        die(errno, "set qp_routes max_entries");
    if (!strcmp(map_type, "hash")) {
        if (bpf_map__set_type(route_map, BPF_MAP_TYPE_HASH) != 0)
            die(errno, "set qp_routes type");
    } else if (!strcmp(map_type, "hash-noprealloc")) {
        /* Elements from the slab allocator as they are inserted, not one preallocated vmalloc area. */
        if (bpf_map__set_type(route_map, BPF_MAP_TYPE_HASH) != 0 ||
            bpf_map__set_map_flags(route_map, bpf_map__map_flags(route_map) | BPF_F_NO_PREALLOC) != 0)
            die(errno, "set qp_routes type and flags");
    } else if (!strcmp(map_type, "lru-percpu")) {
        /* One LRU list per CPU: no shared list lock on insert; lookups are the same hash walk. */
        if (bpf_map__set_map_flags(route_map, bpf_map__map_flags(route_map) | BPF_F_NO_COMMON_LRU) != 0)
            die(errno, "set qp_routes flags");
    } else if (strcmp(map_type, "lru") != 0) {
        die(0, "xdp-prog-bench: --map must be lru, hash, hash-noprealloc or lru-percpu");
    }
    size_t config_size;
    /* libbpf 1.1 returns the initial value as const, but it is the buffer load copies: writable until then. */
    struct qp_config *config = (struct qp_config *)bpf_map__initial_value(rodata, &config_size);
    if (config == NULL || config_size != sizeof *config)
        die(0, "xdp-prog-bench: .rodata is not struct qp_config");
    config->cid_len = (uint8_t)cid_len;
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
    double t0 = now_mono();
    for (uint64_t r = 0; r < routes; r++)
        put_route(bpf_map__fd(route_map), r, cid_len);
    double fill_s = now_mono() - t0;

    uint8_t *frame_bytes = malloc(frames * size);
    if (frame_bytes == NULL)
        die(errno, "malloc frames");
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (uint64_t f = 0; f < frames; f++)
        build_frame(frame_bytes + f * size, size, xorshift64(&rng) % routes, cid_len);

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
    uint64_t test_ns = 0;
    t0 = now_mono();
    for (uint64_t r = 0; r < runs; r++) {
        opts.data_in = frame_bytes + (r % frames) * size;
        opts.data_size_out = sizeof out;
        if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
            die(errno, "bpf_prog_test_run_opts");
        test_ns += opts.duration;
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

    uint64_t cnt = after.run_cnt - before.run_cnt, ns = after.run_time_ns - before.run_time_ns;
    uint64_t hot_cnt = hot_after.run_cnt - hot_before.run_cnt, hot_ns = hot_after.run_time_ns - hot_before.run_time_ns;
    printf("{\"map\":\"%s\",\"capacity\":%u,\"routes\":%llu,\"frames\":%llu,\"runs\":%llu,\"size\":%zu,"
           "\"ns_per_packet\":%.1f,\"test_run_ns_per_packet\":%.1f,\"hot_ns_per_packet\":%.1f,\"hot_test_run_ns\":%u,"
           "\"fill_seconds\":%.2f,\"wall_seconds\":%.2f}\n",
           map_type, bpf_map__max_entries(route_map), (unsigned long long)routes, (unsigned long long)frames,
           (unsigned long long)runs, size, cnt ? (double)ns / (double)cnt : 0.0, (double)test_ns / (double)runs,
           hot_cnt ? (double)hot_ns / (double)hot_cnt : 0.0, opts.duration, fill_s, wall);
    free(frame_bytes);
    bpf_object__close(obj);
    return 0;
}
