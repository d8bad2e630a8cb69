/*
 * pruner.c: the retention pruner (see pruner.h).
 *
 * Owns: struct pruner (options, thread, cumulative totals). Invariants:
 * `stopping` only goes from false to true; totals only grow; the thread holds
 * a pooled store connection only during a pass.
 *
 * Why its own connection and not the API's group-commit writer: the writer
 * lives inside struct api, which `sealpostd prune` (cron, another process)
 * does not have, and a WAL checkpoint must run outside any transaction,
 * which the writer's connection never is between batches it does not
 * control. So the pruner is the second, deliberately small writer: one
 * BEGIN IMMEDIATE transaction per batch of at most `batch` rows of each kind
 * (a few ms), then a pause of PRUNER_BATCH_PAUSE_MS with no lock held, so
 * the writer thread (busy timeout 5 s, busy handler retrying within a few
 * ms) never waits for more than one batch. SQLite serialises the two;
 * nothing else in the relay writes. Deleting rows the API reads concurrently
 * is safe: reads run on WAL snapshots, account ids are never reused
 * (AUTOINCREMENT), and a deleted account's cached bearer tokens are dropped
 * through the accounts_deleted hook.
 *
 * Thread rules: pruner_run_once() runs on the caller's thread. The pruner
 * thread is the only one running passes of a struct pruner; totals are read
 * by the metrics renderer under the mutex.
 */
#include "server/pruner.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "server/config.h"

struct pruner {
    struct pruner_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool started, stopping, kicked;
    /* totals, under mu */
    struct pruner_counts total;
    uint64_t passes, failures, checkpoints_incomplete;
};

void pruner_retention_from_config(struct store_retention *out, const struct config *cfg)
{
    memset(out, 0, sizeof *out);
    out->envelope_ttl_s = cfg->limits.envelope_ttl_s;
    out->signed_prekey_grace_s = cfg->signed_prekey_grace_s;
    out->account_idle_s = cfg->account_idle_s;
    out->batch = cfg->prune_batch > 0 ? cfg->prune_batch : 1;
}

static void add_counts(struct pruner_counts *acc, const struct store_prune_counts *n)
{
    acc->mail += n->mail;
    acc->tokens += n->tokens;
    acc->replay += n->replay;
    acc->signed_prekeys += n->signed_prekeys;
    acc->accounts += n->accounts;
    acc->batches++;
}

static bool counts_any(const struct pruner_counts *n)
{
    return n->mail + n->tokens + n->replay + n->signed_prekeys + n->accounts > 0;
}

static void deadline_in_ms(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Pause between batches; false if the pruner is stopping (p may be NULL). */
static bool batch_pause(struct pruner *p)
{
    if (p == NULL) {
        struct timespec ts = {0, (long)PRUNER_BATCH_PAUSE_MS * 1000000L};
        nanosleep(&ts, NULL);
        return true;
    }
    struct timespec dl;
    deadline_in_ms(&dl, PRUNER_BATCH_PAUSE_MS);
    pthread_mutex_lock(&p->mu);
    while (!p->stopping && pthread_cond_timedwait(&p->cv, &p->mu, &dl) == 0)
        ;
    bool go_on = !p->stopping;
    pthread_mutex_unlock(&p->mu);
    return go_on;
}

static sp_status run_pass(struct pruner *p, struct store *s, const struct store_retention *r,
                          uint64_t now, struct pruner_counts *out)
{
    sp_status st = SP_OK;
    struct store_conn *c = NULL;
    struct store_prune_counts n;

    memset(out, 0, sizeof *out);
    ENSURE(r->batch > 0, SP_ERR_USAGE);
    TRY(store_conn_get(s, &c));
    for (;;) {
        TRY(store_begin(c));
        st = store_prune(c, r, now, &n);
        if (st != SP_OK) {
            store_rollback(c);
            goto out;
        }
        TRY(store_commit(c)); /* a failed commit has rolled back */
        add_counts(out, &n);
        if (!n.more)
            break;
        if (!batch_pause(p))
            goto out; /* stopping: the next start carries on */
    }
    /* Outside any transaction. Every pass, not only after deletions: an ack
     * also leaves the acked envelope's frames in the WAL until it is reset. */
    TRY(store_checkpoint(c, &out->checkpoint_complete));
out:
    store_conn_put(s, c);
    return st;
}

sp_status pruner_run_once(struct store *s, const struct store_retention *r, uint64_t now,
                          struct pruner_counts *out)
{
    return run_pass(NULL, s, r, now, out);
}

void pruner_log_counts(const struct pruner_counts *n)
{
    if (!counts_any(n))
        return;
    SP_LOG_I("pruned: %llu envelopes, %llu tokens, %llu replay records, %llu signed prekeys, "
             "%llu accounts",
             (unsigned long long)n->mail, (unsigned long long)n->tokens,
             (unsigned long long)n->replay, (unsigned long long)n->signed_prekeys,
             (unsigned long long)n->accounts);
}

/* ---- the thread */

static void *pruner_main(void *arg)
{
    struct pruner *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stopping;
        p->kicked = false;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;

        struct pruner_counts n;
        uint64_t now = sp_clock_now(p->opt.clock);
        sp_status st = run_pass(p, p->opt.store, &p->opt.retention, now, &n);
        pruner_log_counts(&n);
        if (st != SP_OK)
            SP_LOG_W("pruner: pass failed: %s (retrying in %u s)", sp_status_name(st),
                     p->opt.interval_s);
        else if (!n.checkpoint_complete)
            SP_LOG_D("pruner: WAL checkpoint incomplete (readers active); retrying next pass");
        if (n.accounts > 0 && p->opt.accounts_deleted != NULL)
            p->opt.accounts_deleted(p->opt.accounts_deleted_ctx);

        pthread_mutex_lock(&p->mu);
        p->total.mail += n.mail;
        p->total.tokens += n.tokens;
        p->total.replay += n.replay;
        p->total.signed_prekeys += n.signed_prekeys;
        p->total.accounts += n.accounts;
        p->total.batches += n.batches;
        p->passes++;
        if (st != SP_OK)
            p->failures++;
        else if (!n.checkpoint_complete)
            p->checkpoints_incomplete++;
        pthread_cond_broadcast(&p->cv); /* pruner_totals waiters (tests) */

        struct timespec dl;
        deadline_in_ms(&dl, (uint64_t)p->opt.interval_s * 1000u);
        while (!p->stopping && !p->kicked && pthread_cond_timedwait(&p->cv, &p->mu, &dl) == 0)
            ;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

sp_status pruner_create(struct pruner **out, const struct pruner_options *opt)
{
    sp_status st = SP_OK;
    struct pruner *p = NULL;
    pthread_condattr_t ca;
    bool ca_ready = false, mu_ready = false;

    *out = NULL;
    ENSURE(opt != NULL && opt->store != NULL && opt->clock != NULL && opt->interval_s > 0 &&
               opt->retention.batch > 0,
           SP_ERR_USAGE);
    p = calloc(1, sizeof *p);
    ENSURE(p != NULL, SP_ERR_NOMEM);
    p->opt = *opt;
    ENSURE(pthread_mutex_init(&p->mu, NULL) == 0, SP_ERR_INTERNAL);
    mu_ready = true;
    ENSURE(pthread_condattr_init(&ca) == 0, SP_ERR_INTERNAL);
    ca_ready = true;
    ENSURE(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0, SP_ERR_INTERNAL);
    ENSURE(pthread_cond_init(&p->cv, &ca) == 0, SP_ERR_INTERNAL);
    *out = p;
    p = NULL;
out:
    if (ca_ready)
        pthread_condattr_destroy(&ca);
    if (p != NULL) {
        if (mu_ready)
            pthread_mutex_destroy(&p->mu);
        free(p);
    }
    return st;
}

void pruner_set_accounts_hook(struct pruner *p, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&p->mu);
    p->opt.accounts_deleted = fn;
    p->opt.accounts_deleted_ctx = ctx;
    pthread_mutex_unlock(&p->mu);
}

sp_status pruner_start(struct pruner *p)
{
    sp_status st = SP_OK;
    pthread_mutex_lock(&p->mu);
    if (p->started || p->stopping)
        st = SP_ERR_USAGE;
    else if (pthread_create(&p->thread, NULL, pruner_main, p) != 0)
        st = SP_ERR_INTERNAL;
    else
        p->started = true;
    pthread_mutex_unlock(&p->mu);
    if (st == SP_OK)
        SP_LOG_I("pruner: every %u s; envelope ttl %llu s, signed prekey grace %llu s, idle "
                 "accounts %llu s (0 = kept), batch %u",
                 p->opt.interval_s, (unsigned long long)p->opt.retention.envelope_ttl_s,
                 (unsigned long long)p->opt.retention.signed_prekey_grace_s,
                 (unsigned long long)p->opt.retention.account_idle_s, p->opt.retention.batch);
    return st;
}

void pruner_kick(struct pruner *p)
{
    pthread_mutex_lock(&p->mu);
    p->kicked = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pruner_stop(struct pruner *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    bool join = p->started && !p->stopping;
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (join)
        pthread_join(p->thread, NULL);
}

void pruner_destroy(struct pruner *p)
{
    if (p == NULL)
        return;
    pruner_stop(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void pruner_totals(struct pruner *p, struct pruner_counts *out, uint64_t *passes)
{
    pthread_mutex_lock(&p->mu);
    *out = p->total;
    if (passes != NULL)
        *passes = p->passes;
    pthread_mutex_unlock(&p->mu);
}

sp_status pruner_metrics_text(void *ctx, struct buf *out)
{
    struct pruner *p = ctx;
    sp_status st = SP_OK;
    struct pruner_counts t;
    uint64_t passes, failures, incomplete;

    pthread_mutex_lock(&p->mu);
    t = p->total;
    passes = p->passes;
    failures = p->failures;
    incomplete = p->checkpoints_incomplete;
    pthread_mutex_unlock(&p->mu);

    const struct {
        const char *kind;
        uint64_t v;
    } kinds[] = {{"envelopes", t.mail},           {"tokens", t.tokens},
                 {"replay_records", t.replay},    {"signed_prekeys", t.signed_prekeys},
                 {"accounts", t.accounts}};
    TRY(buf_append_str(out, "# HELP sealpost_pruned_total Rows deleted by the retention pruner, "
                            "by kind.\n# TYPE sealpost_pruned_total counter\n"));
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        TRY(buf_printf(out, "sealpost_pruned_total{kind=\"%s\"} %llu\n", kinds[i].kind,
                       (unsigned long long)kinds[i].v));
    TRY(buf_printf(out,
                   "# HELP sealpost_prune_passes_total Retention pruner passes completed.\n"
                   "# TYPE sealpost_prune_passes_total counter\nsealpost_prune_passes_total %llu\n"
                   "# HELP sealpost_prune_failures_total Pruner passes that failed.\n"
                   "# TYPE sealpost_prune_failures_total counter\n"
                   "sealpost_prune_failures_total %llu\n"
                   "# HELP sealpost_prune_checkpoints_incomplete_total WAL checkpoints left "
                   "incomplete by active readers.\n"
                   "# TYPE sealpost_prune_checkpoints_incomplete_total counter\n"
                   "sealpost_prune_checkpoints_incomplete_total %llu\n",
                   (unsigned long long)passes, (unsigned long long)failures,
                   (unsigned long long)incomplete));
out:
    return st;
}
