/*
 * xdp-sink: the lab's sink in the driver. Loads xdp-sink.bpf.o, attaches it natively to an interface
 * through a bpf_link (gone with this process, even on a crash), and prints the count of datagrams it
 * dropped for the sink's UDP port once per second, in udp-sink's format:
 *
 *   xdp-sink --dev IFACE --port PORT --duration SECONDS [--obj PATH]
 *
 * Why: udp-sink receives every datagram through the whole UDP stack and a socket, which on a 2-core
 * machine costs more than the relay path under test; an XDP_DROP costs a map increment.
 */
#define _GNU_SOURCE
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Mirrors of the structs in xdp-sink.bpf.c. */
struct sink_config {
    uint16_t port; /* network order */
    uint16_t reserved[3];
};
struct sink_count {
    uint64_t packets, bytes;
};


static void usage(FILE *f)
{
    fputs("Usage: xdp-sink --dev IFACE --port PORT --duration SECONDS [--obj PATH]\n"
          "\n"
          "Attaches xdp-sink.bpf.o to IFACE (native XDP, bpf_link): UDP datagrams to PORT are counted and\n"
          "dropped, everything else passes. Prints to stderr 'xdp-sink: attached ...' once attached, then on\n"
          "stdout one JSON line per second, as udp-sink does:\n"
          "  {\"t\":sec,\"ts\":unix_time,\"packets\":cumulative,\"bytes\":cumulative}\n"
          "and a summary line {\"summary\":true,...}. SIGINT/SIGTERM end it early; the program is detached on exit.\n"
          "\n"
          "  --dev IFACE         interface to attach to\n"
          "  --port PORT         the sink's UDP port\n"
          "  --duration SECONDS  mandatory bound (max 3600)\n"
          "  --obj PATH          the BPF object (default: xdp-sink.bpf.o beside this program)\n",
          f);
}

static struct sink_count read_counts(int map_fd, struct sink_count *percpu, int ncpus)
{
    uint32_t key = 0;
    struct sink_count sum = {0, 0};
    if (bpf_map_lookup_elem(map_fd, &key, percpu) != 0)
        die(errno, "read sink_counts");
    for (int i = 0; i < ncpus; i++) {
        sum.packets += percpu[i].packets;
        sum.bytes += percpu[i].bytes;
    }
    return sum;
}

static void default_obj_path(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        die(errno, "readlink /proc/self/exe");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(buf, len, "%s/xdp-sink.bpf.o", exe);
}

int main(int argc, char **argv)
{
    const char *dev = NULL, *obj_path = NULL;
    double duration = -1;
    uint16_t port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--dev")) { if (!v) die(0, "--dev needs a value"); dev = v; i++; }
        else if (!strcmp(a, "--port")) { port = (uint16_t)parse_u64(a, v, 1, 65535); i++; }
        else if (!strcmp(a, "--duration")) { duration = parse_double(a, v, 0.001, 3600); i++; }
        else if (!strcmp(a, "--obj")) { if (!v) die(0, "--obj needs a value"); obj_path = v; i++; }
        else die(0, "xdp-sink: unknown option '%s' (try --help)", a);
    }
    if (dev == NULL || port == 0)
        die(0, "xdp-sink: --dev IFACE and --port PORT are required (try --help)");
    if (duration < 0)
        die(0, "xdp-sink: --duration SECONDS is required");
    char default_obj[PATH_MAX + 32];
    if (obj_path == NULL) {
        default_obj_path(default_obj, sizeof default_obj);
        obj_path = default_obj;
    }
    int ifindex = (int)if_nametoindex(dev);
    if (ifindex == 0)
        die(errno, "xdp-sink: no interface '%s'", dev);

    libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
    struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
    if (obj == NULL)
        die(errno, "xdp-sink: open %s", obj_path);
    struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
    struct sink_config cfg = {.port = htons(port)};
    if (rodata == NULL || bpf_map__set_initial_value(rodata, &cfg, sizeof cfg) != 0)
        die(0, "xdp-sink: %s has no .rodata of %zu bytes (struct sink_config)", obj_path, sizeof cfg);
    if (bpf_object__load(obj) != 0)
        die(errno, "xdp-sink: load %s", obj_path);
    struct bpf_program *prog = bpf_object__find_program_by_name(obj, "xdp_sink");
    struct bpf_map *counts = bpf_object__find_map_by_name(obj, "sink_counts");
    if (prog == NULL || counts == NULL)
        die(0, "xdp-sink: %s lacks program xdp_sink or map sink_counts", obj_path);
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0)
        die(-ncpus, "libbpf_num_possible_cpus");
    struct sink_count *percpu = calloc((size_t)ncpus, sizeof *percpu);
    if (percpu == NULL)
        die(errno, "calloc");
    int map_fd = bpf_map__fd(counts);

    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
    int link_fd = bpf_link_create(bpf_program__fd(prog), ifindex, BPF_XDP, &opts);
    if (link_fd < 0)
        die(errno, "xdp-sink: attach to %s (native XDP; is another program attached?)", dev);

    stop_on_signals();
    fprintf(stderr, "xdp-sink: attached to %s, counting UDP port %u for %.1f s\n", dev, port, duration);

    double start = now_mono(), deadline = start + duration;
    struct timespec tick;
    if (clock_gettime(CLOCK_MONOTONIC, &tick) != 0)
        die(errno, "clock_gettime");
    struct sink_count now = {0, 0};
    for (long t = 1; !g_stop; t++) {
        tick.tv_sec += 1;
        int err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
        if (err == EINTR)
            break; /* a signal: g_stop is set */
        if (err != 0)
            die(err, "clock_nanosleep");
        now = read_counts(map_fd, percpu, ncpus);
        printf("{\"t\":%ld,\"ts\":%.3f,\"packets\":%llu,\"bytes\":%llu}\n", t, now_wall(),
               (unsigned long long)now.packets, (unsigned long long)now.bytes);
        if (fflush(stdout) != 0)
            die(errno, "write stdout");
        if (now_mono() >= deadline)
            break;
    }
    now = read_counts(map_fd, percpu, ncpus);
    printf("{\"summary\":true,\"packets\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n", (unsigned long long)now.packets,
           (unsigned long long)now.bytes, now_mono() - start);
    if (fflush(stdout) != 0)
        die(errno, "write stdout");
    if (close(link_fd) != 0) /* detaches the program */
        die(errno, "close bpf_link");
    bpf_object__close(obj);
    free(percpu);
    return 0;
}
