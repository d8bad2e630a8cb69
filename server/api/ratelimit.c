/*
 * ratelimit.c: fixed-size table of token buckets (see ratelimit.h).
 *
 * Arithmetic is exact integers: a request costs `window` units, a bucket
 * holds at most burst * window units and refills `burst` units per second,
 * which is burst requests per window. Open addressing with a short probe
 * sequence keeps memory fixed; an entry whose bucket is full carries no
 * information and is reused first. Keys are hashed with a per-process random
 * seed so a client cannot aim its keys at someone else's slot.
 */
#include "server/api/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/crypto.h"

#define PROBE 8

struct bucket {
    uint64_t a, b;
    uint64_t level; /* units, <= cap */
    uint64_t last;  /* unix seconds of the last refill */
    bool used;
};

struct ratelimit {
    pthread_mutex_t lock;
    uint64_t burst, window, cap;
    uint64_t seed;
    size_t mask;
    struct bucket *slots;
};

sp_status ratelimit_create(struct ratelimit **out, uint32_t burst, uint32_t window_s, size_t slots)
{
    sp_status st = SP_OK;
    struct ratelimit *rl = NULL;
    size_t n = 16;

    *out = NULL;
    ENSURE(window_s > 0 || burst == 0, SP_ERR_USAGE);
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    rl = calloc(1, sizeof *rl);
    ENSURE(rl != NULL, SP_ERR_NOMEM);
    rl->slots = calloc(n, sizeof *rl->slots);
    ENSURE(rl->slots != NULL, SP_ERR_NOMEM);
    TRY(sp_random((uint8_t *)&rl->seed, sizeof rl->seed));
    ENSURE(pthread_mutex_init(&rl->lock, NULL) == 0, SP_ERR_INTERNAL);
    rl->mask = n - 1;
    rl->burst = burst;
    rl->window = window_s;
    rl->cap = (uint64_t)burst * window_s;
    *out = rl;
    rl = NULL;
out:
    if (rl != NULL) {
        free(rl->slots);
        free(rl);
    }
    return st;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Level of bucket e at `now`, without writing it. */
static uint64_t refilled(const struct ratelimit *rl, const struct bucket *e, uint64_t now)
{
    if (now <= e->last)
        return e->level;
    uint64_t elapsed = now - e->last;
    if (elapsed >= rl->window)
        return rl->cap;
    uint64_t level = e->level + elapsed * rl->burst;
    return level > rl->cap ? rl->cap : level;
}

static struct bucket *find_slot(struct ratelimit *rl, uint64_t a, uint64_t b, uint64_t now)
{
    size_t home = (size_t)mix64(mix64(a ^ rl->seed) ^ b) & rl->mask;
    struct bucket *empty = NULL, *victim = NULL;
    uint64_t victim_level = 0;
    for (size_t i = 0; i < PROBE; i++) {
        struct bucket *e = &rl->slots[(home + i) & rl->mask];
        if (!e->used) {
            if (empty == NULL)
                empty = e;
            continue;
        }
        if (e->a == a && e->b == b)
            return e;
        uint64_t level = refilled(rl, e, now);
        if (victim == NULL || level > victim_level) {
            victim = e;
            victim_level = level;
        }
    }
    struct bucket *e = empty != NULL ? empty : victim;
    *e = (struct bucket){.a = a, .b = b, .level = rl->cap, .last = now, .used = true};
    return e;
}

struct ratelimit_result ratelimit_take(struct ratelimit *rl, uint64_t a, uint64_t b, uint64_t now)
{
    struct ratelimit_result r = {.allowed = true, .remaining = UINT32_MAX};
    if (rl->burst == 0)
        return r;

    pthread_mutex_lock(&rl->lock);
    struct bucket *e = find_slot(rl, a, b, now);
    e->level = refilled(rl, e, now);
    if (now > e->last)
        e->last = now;
    if (e->level >= rl->window) {
        e->level -= rl->window;
        uint64_t left = e->level / rl->window;
        r.remaining = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    } else {
        uint64_t missing = rl->window - e->level;
        uint64_t wait = (missing + rl->burst - 1) / rl->burst;
        r.allowed = false;
        r.remaining = 0;
        r.retry_after_s = wait < 1 ? 1 : wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait;
    }
    pthread_mutex_unlock(&rl->lock);
    return r;
}
