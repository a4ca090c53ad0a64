/*
 * Logging: ngtcp2's own trace, opened on first use when QUICPIPE_NGTCP2_LOG is set (qp_settings hooks it in).
 */
#include "quicpipe_quic_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * ngtcp2's own trace (every frame sent and received, loss detection, path validation), for diagnosis only: it
 * writes several lines per packet. Off unless the environment variable QUICPIPE_NGTCP2_LOG is set: "-" writes to
 * stderr, anything else is a path prefix and the trace goes to PREFIX.PID. Each line starts with the connection's
 * pointer, then ngtcp2's own timestamp (ms since the connection started).
 */
static FILE *qp_log_file;

void qp_log_printf(void *user_data, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char line[512];
    vsnprintf(line, sizeof(line), format, ap);
    va_end(ap);
    fprintf(qp_log_file, "%p %s\n", user_data, line);
}

static pthread_once_t qp_log_once = PTHREAD_ONCE_INIT;

static void qp_log_open(void)
{
    const char *value = getenv("QUICPIPE_NGTCP2_LOG");
    if (!value || !value[0]) {
        return;
    }
    if (strcmp(value, "-") == 0) {
        qp_log_file = stderr;
        return;
    }
    char name[4096];
    snprintf(name, sizeof(name), "%s.%ld", value, (long)getpid());
    qp_log_file = fopen(name, "a");
    if (qp_log_file) {
        setvbuf(qp_log_file, NULL, _IOLBF, 0); /* whole lines survive a killed process */
    }
}

/* Endpoints create connections on their own loop threads: the first one opens the trace for all. */
int qp_log_enabled(void)
{
    pthread_once(&qp_log_once, qp_log_open);
    return qp_log_file != NULL;
}
