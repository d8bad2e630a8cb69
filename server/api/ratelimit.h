/*
 * ratelimit.h: in-memory token buckets with bounded memory.
 *
 * A limiter allows `burst` requests per `window_s` seconds per key, refilling
 * continuously (burst / window_s per second). Keys are two opaque 64-bit
 * values, e.g. (client key, 0) or (requester account, target hash). State
 * lives only in memory: nothing is stored or logged, and it is lost on
 * restart by design.
 *
 * Memory is a fixed table of `slots` entries; a new key takes an empty slot,
 * or a slot whose bucket has refilled completely (equivalent to a fresh key),
 * or at worst the fullest bucket near its home slot. Thread-safe (one mutex).
 */
#ifndef SEALPOST_SERVER_API_RATELIMIT_H
#define SEALPOST_SERVER_API_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct ratelimit;

/* burst == 0 makes a limiter that allows everything. */
SP_WARN_UNUSED sp_status ratelimit_create(struct ratelimit **out, uint32_t burst, uint32_t window_s,
                                          size_t slots);
void ratelimit_destroy(struct ratelimit *rl); /* NULL-safe */

struct ratelimit_result {
    bool allowed;
    uint32_t remaining;     /* whole requests left after this one */
    uint32_t retry_after_s; /* when refused: seconds until one request is allowed (>= 1) */
};

/* Take one request for key (a, b) at time `now` (unix seconds). */
struct ratelimit_result ratelimit_take(struct ratelimit *rl, uint64_t a, uint64_t b, uint64_t now);

#endif
