/*
 * clock.h: an injectable wall clock. Production uses sp_clock_system(); tests
 * pass their own `now` to move time across expiry boundaries.
 */
#ifndef SEALPOST_COMMON_CLOCK_H
#define SEALPOST_COMMON_CLOCK_H

#include <stdint.h>

struct sp_clock {
    uint64_t (*now)(void *ctx); /* unix seconds */
    void *ctx;
};

/* The real clock (CLOCK_REALTIME). Returns a pointer to a constant. */
const struct sp_clock *sp_clock_system(void);

static inline uint64_t sp_clock_now(const struct sp_clock *c)
{
    return c->now(c->ctx);
}

/* Monotonic milliseconds, for timeouts and benchmarks (not wall time). */
uint64_t sp_monotonic_ms(void);

#endif
