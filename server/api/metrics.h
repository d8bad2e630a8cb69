/*
 * metrics.h: the relay's aggregate counters, rendered as Prometheus text.
 *
 * Aggregate only, by design: counters are per route, status class, reason or
 * event kind; nothing is ever labelled with an account, address, token or IP.
 * All members are C11 atomics updated with relaxed ordering, so any thread may
 * count without a lock; rendering reads a slightly torn but monotonic view.
 */
#ifndef SEALPOST_SERVER_API_METRICS_H
#define SEALPOST_SERVER_API_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/status.h"

#define METRICS_MAX_ROUTES    16 /* >= router_count() + 1 (the "unmatched" row) */
#define METRICS_CLASSES       5  /* 1xx .. 5xx */
#define METRICS_BATCH_BUCKETS 11 /* jobs per writer batch: <=1, 2, 4, .. 512, +Inf */

enum metric_counter {
    M_ENVELOPES_STORED,
    M_ENVELOPES_DUPLICATE,
    M_ENVELOPES_FETCHED,
    M_ENVELOPES_ACKED,
    M_BUNDLES_WITH_PREKEY,
    M_BUNDLES_WITHOUT_PREKEY,
    M_PREKEYS_UPLOADED,
    M_RATE_LIMITED_AUTH,
    M_RATE_LIMITED_BUNDLE,
    M_WRITER_COMMIT_FAILURES,
    M_LONGPOLL_WOKEN_BY_MAIL,
    M_LONGPOLL_TIMED_OUT,
    M_COUNTER_COUNT
};

enum auth_failure {
    AUTH_FAIL_MISSING_TOKEN,   /* no or malformed Authorization header */
    AUTH_FAIL_UNKNOWN_TOKEN,   /* unknown or expired token */
    AUTH_FAIL_BAD_SIGNATURE,   /* proof or signed-prekey signature */
    AUTH_FAIL_UNKNOWN_ACCOUNT, /* token proof for an address nobody registered */
    AUTH_FAIL_STALE,
    AUTH_FAIL_REPLAY,
    AUTH_FAIL_COUNT
};

struct metrics {
    atomic_uint_fast64_t requests[METRICS_MAX_ROUTES][METRICS_CLASSES];
    atomic_uint_fast64_t counters[M_COUNTER_COUNT];
    atomic_uint_fast64_t auth_failures[AUTH_FAIL_COUNT];
    atomic_uint_fast64_t batch_buckets[METRICS_BATCH_BUCKETS]; /* non-cumulative */
    atomic_uint_fast64_t batch_count, batch_jobs_sum;
    atomic_int_fast64_t longpolls_active;
};

void metrics_init(struct metrics *m);
void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n);
/* route_index = router_index(route), or router_count() for unmatched paths. */
void metrics_request(struct metrics *m, size_t route_index, unsigned http_status);
void metrics_auth_failure(struct metrics *m, enum auth_failure why);
void metrics_batch(struct metrics *m, size_t jobs);
void metrics_longpoll(struct metrics *m, int delta);
uint64_t metrics_get(struct metrics *m, enum metric_counter c);

/* Append the Prometheus text exposition to out. */
SP_WARN_UNUSED sp_status metrics_render(struct metrics *m, struct buf *out);

#endif
