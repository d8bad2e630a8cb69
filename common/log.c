/*
 * log.c: one line per call, written with a single fprintf so lines from
 * different threads do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int log_level = SP_LOG_INFO;

void sp_log_set_level(enum sp_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int sp_log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void sp_log(enum sp_log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    if ((int)level > atomic_load(&log_level))
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sealpost[%s]: %s\n", tags[level], line);
}
