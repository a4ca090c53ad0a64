#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void die(int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (errnum != 0)
        fprintf(stderr, ": %s", strerror(errnum));
    fputc('\n', stderr);
    exit(1);
}

int parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_str;
    memset(sa, 0, sizeof *sa);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        size_t n = (size_t)(end - s - 1);
        if (n == 0 || n >= sizeof host)
            return -1;
        memcpy(host, s + 1, n);
        host[n] = '\0';
        port_str = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        size_t n = (size_t)(colon - s);
        if (n == 0 || n >= sizeof host)
            return -1;
        memcpy(host, s, n);
        host[n] = '\0';
        port_str = colon + 1;
    }
    char *endp;
    errno = 0;
    unsigned long port = strtoul(port_str, &endp, 10);
    if (errno != 0 || *port_str == '\0' || *endp != '\0' || port > 65535)
        return -1;
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

void format_hostport(const struct sockaddr_storage *sa, char *buf, size_t buflen)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host) == NULL)
            die(errno, "inet_ntop");
        snprintf(buf, buflen, "%s:%u", host, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host) == NULL)
            die(errno, "inet_ntop");
        snprintf(buf, buflen, "[%s]:%u", host, ntohs(v6->sin6_port));
    }
}

uint64_t parse_u64(const char *opt, const char *value, uint64_t min, uint64_t max)
{
    if (value == NULL)
        die(0, "option %s needs a value", opt);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 0);
    if (errno != 0 || *value == '\0' || *end != '\0' || value[0] == '-')
        die(0, "option %s: '%s' is not a non-negative integer", opt, value);
    if (v < min || v > max)
        die(0, "option %s: %llu is out of range [%llu, %llu]", opt, v, (unsigned long long)min,
            (unsigned long long)max);
    return (uint64_t)v;
}

double parse_double(const char *opt, const char *value, double min, double max)
{
    if (value == NULL)
        die(0, "option %s needs a value", opt);
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno != 0 || *value == '\0' || *end != '\0')
        die(0, "option %s: '%s' is not a number", opt, value);
    if (!(v >= min && v <= max))
        die(0, "option %s: %g is out of range [%g, %g]", opt, v, min, max);
    return v;
}

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void derive_cid(uint64_t seed, uint64_t index, uint8_t *out, size_t cid_len)
{
    /* Each CID gets its own splitmix64 stream: state = seed mixed with the index. */
    uint64_t state = seed ^ (index * 0xd1b54a32d192ed03ULL);
    size_t off = 0;
    while (off < cid_len) {
        uint64_t w = splitmix64(&state);
        for (int b = 0; b < 8 && off < cid_len; b++, off++)
            out[off] = (uint8_t)(w >> (8 * b));
    }
}

uint64_t now_mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die(errno, "clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double now_mono(void)
{
    return (double)now_mono_ns() * 1e-9;
}

double now_wall(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        die(errno, "clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void set_sock_buf(int fd, int opt, int force_opt, int bytes)
{
    if (geteuid() == 0 && setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) == 0)
        return;
    /* Without privilege the kernel caps at net.core.[rw]mem_max; that is fine, just smaller. */
    if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes) != 0)
        die(errno, "setsockopt(socket buffer %d bytes)", bytes);
}

uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void sleep_seconds(double s, volatile sig_atomic_t *stop)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR)
            die(errno, "nanosleep");
        if (*stop)
            return;
    }
}

volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

void stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        die(errno, "sigaction");
}

void pacer_init(struct pacer *p, double rate, size_t batch, double start)
{
    p->rate = rate;
    p->tokens = 0;
    p->last = start;
    p->batch = batch;
    p->burst = rate * 0.010 > (double)batch ? rate * 0.010 : (double)batch;
    pacer_set_interval(p, 0.001);
}

void pacer_set_interval(struct pacer *p, double seconds)
{
    p->want = p->rate * seconds < (double)p->batch ? p->rate * seconds : (double)p->batch;
    if (p->want < 1)
        p->want = 1;
}

size_t pacer_ready(struct pacer *p, double deadline)
{
    if (p->rate <= 0)
        return p->batch;
    double t = now_mono();
    p->tokens += (t - p->last) * p->rate;
    p->last = t;
    if (p->tokens > p->burst)
        p->tokens = p->burst;
    if (p->tokens < p->want) {
        double wait = (p->want - p->tokens) / p->rate;
        sleep_seconds(t + wait > deadline ? deadline - t : wait, &g_stop);
        return 0;
    }
    return (size_t)p->tokens < p->batch ? (size_t)p->tokens : p->batch;
}

void pacer_spent(struct pacer *p, size_t n)
{
    if (p->rate > 0)
        p->tokens -= (double)n;
}
