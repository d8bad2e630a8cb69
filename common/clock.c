/*
 * clock.c: system clocks.
 */
#include "clock.h"

#include <time.h>

static uint64_t system_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec < 0 ? 0 : (uint64_t)ts.tv_sec;
}

static const struct sp_clock system_clock = {.now = system_now, .ctx = 0};

const struct sp_clock *sp_clock_system(void)
{
    return &system_clock;
}

uint64_t sp_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
