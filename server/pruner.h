/*
 * pruner.h: the retention pruner of the relay (docs/PRIVACY.md).
 *
 * Enforces the retention policy with store_prune(): envelopes past their TTL,
 * expired tokens and replay records, superseded signed prekeys past their
 * grace period, accounts idle past a limit (with all their keys, tokens and
 * mail). Then checkpoints the WAL so deleted ciphertext does not linger in
 * the log file (secure_delete zeroes it in the database file).
 *
 * Two users: the `sealpostd prune` one-shot command (pruner_run_once) and a
 * thread inside `sealpostd serve` (pruner_create/start/stop/destroy) that runs
 * once at start and then every interval.
 *
 * Writer story: the pruner writes through its own pooled connection in short
 * BEGIN IMMEDIATE transactions of at most `batch` rows of each kind, not
 * through the API's group-commit writer. SQLite serialises writers, so the
 * writer thread waits at most one short batch (its busy timeout covers it),
 * and the pruner pauses between batches so the writer is never starved. The
 * same code path serves the cron command, which runs in another process
 * while the relay is up, where the API's writer does not exist. See
 * pruner.c for why not the group-commit writer.
 *
 * Logging and metrics: counts only, never an address, id or key.
 */
#ifndef SEALPOST_SERVER_PRUNER_H
#define SEALPOST_SERVER_PRUNER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/status.h"
#include "server/store/store.h"

struct config;
struct pruner;

/* Pause between two batches of one pass, so the group-commit writer gets the
 * write lock in between (its busy handler retries within a few ms). */
#define PRUNER_BATCH_PAUSE_MS 10u

/* What one or more passes deleted (rows of each kind; an account's cascaded
 * keys and mail are not counted separately). */
struct pruner_counts {
    uint64_t mail, tokens, replay, signed_prekeys, accounts;
    uint64_t batches;            /* transactions committed */
    bool checkpoint_complete;    /* the WAL was fully checkpointed and truncated */
};

/* The retention settings of a configuration (envelope TTL from [limits],
 * the rest from [retention]). */
void pruner_retention_from_config(struct store_retention *out, const struct config *cfg);

/* One full pass at `now`: batches of begin / store_prune / commit until
 * nothing is due, a pause between batches, then a WAL checkpoint outside any
 * transaction. Uses one pooled connection of `s` for the whole pass. *out is
 * filled even on failure with what was committed before it. */
SP_WARN_UNUSED sp_status pruner_run_once(struct store *s, const struct store_retention *r,
                                         uint64_t now, struct pruner_counts *out);

/* One log line at info, only when something was deleted. */
void pruner_log_counts(const struct pruner_counts *n);

struct pruner_options {
    struct store *store;
    const struct sp_clock *clock;     /* sp_clock_system() in production */
    struct store_retention retention;
    unsigned interval_s;              /* >= 1 */
    /* Called on the pruner thread after a pass deleted accounts, so caches of
     * the API (bearer tokens) forget them at once. May be NULL. */
    void (*accounts_deleted)(void *ctx);
    void *accounts_deleted_ctx;
};

/* Create the pruner (no thread yet). *out is owned by the caller. */
SP_WARN_UNUSED sp_status pruner_create(struct pruner **out, const struct pruner_options *opt);
/* Late binding of the accounts_deleted hook (the API is created after the
 * pruner so it can render the pruner's metrics). Call before pruner_start. */
void pruner_set_accounts_hook(struct pruner *p, void (*fn)(void *ctx), void *ctx);
/* Start the thread: a pass now, then one every interval_s. */
SP_WARN_UNUSED sp_status pruner_start(struct pruner *p);
/* Run a pass now (wakes the thread; returns at once). */
void pruner_kick(struct pruner *p);
/* Stop the thread: returns as soon as the current batch is done (a timed
 * condvar wait, so no interval is waited out). Idempotent, NULL-safe. */
void pruner_stop(struct pruner *p);
/* pruner_stop() then free. NULL-safe. */
void pruner_destroy(struct pruner *p);

/* Cumulative totals since start (thread-safe) and passes completed. */
void pruner_totals(struct pruner *p, struct pruner_counts *out, uint64_t *passes);
/* Prometheus text of the totals, appended to out (GET /metrics hook:
 * ctx is the struct pruner). */
SP_WARN_UNUSED sp_status pruner_metrics_text(void *ctx, struct buf *out);

#endif
