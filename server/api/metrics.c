/*
 * metrics.c: aggregate counters and their Prometheus text form (see
 * metrics.h). Lock-free: relaxed atomics only, since a metric never orders
 * anything else.
 */
#include "server/api/metrics.h"

#include <string.h>

#include "server/api/router.h"

static const char *const counter_names[M_COUNTER_COUNT][2] = {
    [M_ENVELOPES_STORED] = {"sealpost_envelopes_stored_total", "Envelopes newly stored."},
    [M_ENVELOPES_DUPLICATE] = {"sealpost_envelopes_duplicate_total",
                               "Envelopes resent with an already stored message id."},
    [M_ENVELOPES_FETCHED] = {"sealpost_envelopes_fetched_total", "Envelopes handed out by fetch."},
    [M_ENVELOPES_ACKED] = {"sealpost_envelopes_acked_total", "Envelopes deleted by ack."},
    [M_BUNDLES_WITH_PREKEY] = {"sealpost_bundles_with_prekey_total",
                               "Bundles served with a one-time prekey."},
    [M_BUNDLES_WITHOUT_PREKEY] = {"sealpost_bundles_without_prekey_total",
                                  "Bundles served without a one-time prekey (none left)."},
    [M_PREKEYS_UPLOADED] = {"sealpost_prekeys_uploaded_total",
                            "One-time prekeys accepted by register or upload."},
    [M_RATE_LIMITED_AUTH] = {"sealpost_rate_limited_auth_total",
                             "Register/token requests refused by the per-client limit."},
    [M_RATE_LIMITED_BUNDLE] = {"sealpost_rate_limited_bundle_total",
                               "Bundle requests refused by the per-target limit."},
    [M_WRITER_COMMIT_FAILURES] = {"sealpost_writer_commit_failures_total",
                                  "Group commits that failed (every job of the batch failed)."},
    [M_LONGPOLL_WOKEN_BY_MAIL] = {"sealpost_longpoll_woken_total",
                                  "Long-polls answered because mail arrived."},
    [M_LONGPOLL_TIMED_OUT] = {"sealpost_longpoll_timeouts_total",
                              "Long-polls answered at their deadline."},
};

static const char *const auth_failure_names[AUTH_FAIL_COUNT] = {
    [AUTH_FAIL_MISSING_TOKEN] = "missing_token", [AUTH_FAIL_UNKNOWN_TOKEN] = "unknown_token",
    [AUTH_FAIL_BAD_SIGNATURE] = "bad_signature", [AUTH_FAIL_UNKNOWN_ACCOUNT] = "unknown_account",
    [AUTH_FAIL_STALE] = "stale_proof",           [AUTH_FAIL_REPLAY] = "replay",
};

void metrics_init(struct metrics *m)
{
    for (size_t r = 0; r < METRICS_MAX_ROUTES; r++)
        for (size_t c = 0; c < METRICS_CLASSES; c++)
            atomic_init(&m->requests[r][c], 0);
    for (size_t i = 0; i < M_COUNTER_COUNT; i++)
        atomic_init(&m->counters[i], 0);
    for (size_t i = 0; i < AUTH_FAIL_COUNT; i++)
        atomic_init(&m->auth_failures[i], 0);
    for (size_t i = 0; i < METRICS_BATCH_BUCKETS; i++)
        atomic_init(&m->batch_buckets[i], 0);
    atomic_init(&m->batch_count, 0);
    atomic_init(&m->batch_jobs_sum, 0);
    atomic_init(&m->longpolls_active, 0);
}

void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n)
{
    if ((unsigned)c < M_COUNTER_COUNT && n > 0)
        atomic_fetch_add_explicit(&m->counters[c], n, memory_order_relaxed);
}

uint64_t metrics_get(struct metrics *m, enum metric_counter c)
{
    return atomic_load_explicit(&m->counters[c], memory_order_relaxed);
}

void metrics_request(struct metrics *m, size_t route_index, unsigned http_status)
{
    size_t cls = http_status / 100;
    if (route_index >= METRICS_MAX_ROUTES)
        route_index = METRICS_MAX_ROUTES - 1;
    if (cls < 1 || cls > METRICS_CLASSES)
        cls = 5;
    atomic_fetch_add_explicit(&m->requests[route_index][cls - 1], 1, memory_order_relaxed);
}

void metrics_auth_failure(struct metrics *m, enum auth_failure why)
{
    if ((unsigned)why < AUTH_FAIL_COUNT)
        atomic_fetch_add_explicit(&m->auth_failures[why], 1, memory_order_relaxed);
}

void metrics_batch(struct metrics *m, size_t jobs)
{
    size_t b = 0;
    while (b < METRICS_BATCH_BUCKETS - 1 && jobs > ((size_t)1 << b))
        b++;
    atomic_fetch_add_explicit(&m->batch_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->batch_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->batch_jobs_sum, jobs, memory_order_relaxed);
}

void metrics_longpoll(struct metrics *m, int delta)
{
    atomic_fetch_add_explicit(&m->longpolls_active, delta, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

sp_status metrics_render(struct metrics *m, struct buf *out)
{
    static const char *const classes[METRICS_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    sp_status st;
    size_t n_routes = router_count();

    TRY(buf_append_str(out, "# HELP sealpost_requests_total Requests answered, by route and "
                            "status class.\n# TYPE sealpost_requests_total counter\n"));
    for (size_t r = 0; r <= n_routes && r < METRICS_MAX_ROUTES; r++) {
        const char *name = r < n_routes ? router_at(r)->name : "unmatched";
        for (size_t c = 0; c < METRICS_CLASSES; c++) {
            uint64_t v = load(&m->requests[r][c]);
            if (v == 0 && c != 1 && c != 3)
                continue; /* keep the output short: 2xx and 4xx rows always exist */
            TRY(buf_printf(out, "sealpost_requests_total{route=\"%s\",class=\"%s\"} %llu\n", name,
                           classes[c], (unsigned long long)v));
        }
    }

    for (size_t i = 0; i < M_COUNTER_COUNT; i++) {
        TRY(buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_names[i][0],
                       counter_names[i][1], counter_names[i][0], counter_names[i][0],
                       (unsigned long long)load(&m->counters[i])));
    }

    TRY(buf_append_str(out, "# HELP sealpost_auth_failures_total Authentication failures, by "
                            "reason.\n# TYPE sealpost_auth_failures_total counter\n"));
    for (size_t i = 0; i < AUTH_FAIL_COUNT; i++) {
        TRY(buf_printf(out, "sealpost_auth_failures_total{reason=\"%s\"} %llu\n",
                       auth_failure_names[i], (unsigned long long)load(&m->auth_failures[i])));
    }

    TRY(buf_append_str(out, "# HELP sealpost_writer_batch_jobs Jobs per group commit.\n"
                            "# TYPE sealpost_writer_batch_jobs histogram\n"));
    uint64_t cumulative = 0;
    for (size_t b = 0; b < METRICS_BATCH_BUCKETS; b++) {
        cumulative += load(&m->batch_buckets[b]);
        if (b < METRICS_BATCH_BUCKETS - 1)
            TRY(buf_printf(out, "sealpost_writer_batch_jobs_bucket{le=\"%zu\"} %llu\n",
                           (size_t)1 << b, (unsigned long long)cumulative));
        else
            TRY(buf_printf(out, "sealpost_writer_batch_jobs_bucket{le=\"+Inf\"} %llu\n",
                           (unsigned long long)cumulative));
    }
    TRY(buf_printf(
        out, "sealpost_writer_batch_jobs_sum %llu\nsealpost_writer_batch_jobs_count %llu\n",
        (unsigned long long)load(&m->batch_jobs_sum), (unsigned long long)load(&m->batch_count)));

    int64_t active = atomic_load_explicit(&m->longpolls_active, memory_order_relaxed);
    TRY(buf_printf(out,
                   "# HELP sealpost_longpolls_active Fetches waiting for mail.\n"
                   "# TYPE sealpost_longpolls_active gauge\nsealpost_longpolls_active %lld\n",
                   (long long)(active < 0 ? 0 : active)));
out:
    return st;
}
