/* Shared helpers for the QuicPipe perf tools (loopback load generator, sink, reference forwarder). */
#ifndef QP_PERF_COMMON_H
#define QP_PERF_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <signal.h>

#define QP_MAX_CID_LEN 20
#define QP_SEQ_LEN 8 /* payload starts with a 64-bit little-endian sequence number */
#define QP_STAMP_LEN 8 /* udp-loadgen --timestamp: then the send time, CLOCK_MONOTONIC ns, little-endian */

/* Exit with a message (errno text appended when errnum != 0). */
void die(int errnum, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* Parse "A.B.C.D:PORT" or "[v6addr]:PORT" into sa; returns 0 or -1. */
int parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *len);
/* Format sa as "A.B.C.D:PORT" or "[v6]:PORT". */
void format_hostport(const struct sockaddr_storage *sa, char *buf, size_t buflen);

/* Strict unsigned integer parsing for options; dies on error. */
uint64_t parse_u64(const char *opt, const char *value, uint64_t min, uint64_t max);
double parse_double(const char *opt, const char *value, double min, double max);

/* splitmix64 step. */
uint64_t splitmix64(uint64_t *state);
/* A fast per-packet random number (xorshift64); *state must not be 0. */
uint64_t xorshift64(uint64_t *state);
/* The CID with index i for seed (deterministic, shared by loadgen and its routes writer). */
void derive_cid(uint64_t seed, uint64_t index, uint8_t *out, size_t cid_len);

/* The payload pattern byte at payload offset k (k >= QP_SEQ_LEN); independent of the sequence
 * number so packets can be built from a template. */
static inline uint8_t pattern_byte(size_t k) { return (uint8_t)(k * 7u + 0x5au); }

/* v as 8 little-endian bytes at p (the sequence number and the send time in a payload), and back. */
static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static inline uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* Monotonic and wall-clock time in seconds. */
double now_mono(void);
uint64_t now_mono_ns(void);
double now_wall(void);
/* Sleeps s seconds, ending early once *stop is set (by a signal handler). */
void sleep_seconds(double s, volatile sig_atomic_t *stop);

/* Set by SIGINT and SIGTERM once stop_on_signals() ran: the tools' loops end at their next turn. */
extern volatile sig_atomic_t g_stop;
void stop_on_signals(void);

/* A token bucket for an offered rate in packets per second (0: unlimited). The burst is one batch, or 10 ms of
 * credit if that is more, so that a late wake-up (a loaded machine) is caught up instead of silently lowering the
 * rate; a sender waits for 1 ms worth of packets at most (at least one, at most a batch). */
struct pacer {
    double rate, tokens, last, burst, want;
    size_t batch;
};
void pacer_init(struct pacer *p, double rate, size_t batch, double start);
/* Send every `seconds` (default 1 ms) what is due, instead: shorter means smoother, more wake-ups. */
void pacer_set_interval(struct pacer *p, double seconds);
/* How many packets may go now (at most a batch); 0 after sleeping until some are due, the deadline or g_stop. */
size_t pacer_ready(struct pacer *p, double deadline);
/* n packets went (or were given up on): their tokens are spent. */
void pacer_spent(struct pacer *p, size_t n);

/* Raise a socket buffer (SO_RCVBUF/SO_SNDBUF), trying the FORCE variant first when root. */
void set_sock_buf(int fd, int opt, int force_opt, int bytes);

#endif
