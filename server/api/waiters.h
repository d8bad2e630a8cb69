/*
 * waiters.h: the long-poll registry. A fetch that finds no mail parks a
 * waiter here (no thread blocks); it fires exactly once, when mail for its
 * account is committed (waiters_notify), when its deadline passes (the timer
 * thread), or at shutdown.
 *
 * Exactly once: a waiter leaves the registry under the lock the moment it is
 * chosen to fire; waiters_cancel() succeeds only while it is still
 * registered. fire() runs outside the lock, on the notifying thread (writer),
 * the timer thread or the shutdown caller; after fire() returns the waiter's
 * memory may be gone, so the registry never touches it again.
 *
 * The struct waiter is owned and allocated by the caller (embedded in the
 * call's state) and must stay alive until fired or cancelled.
 */
#ifndef SEALPOST_SERVER_API_WAITERS_H
#define SEALPOST_SERVER_API_WAITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

struct metrics;
struct waiters;

enum waiter_reason { WAITER_MAIL, WAITER_TIMEOUT, WAITER_SHUTDOWN };

struct waiter {
    int64_t account;
    uint64_t deadline_ms; /* sp_monotonic_ms() time */
    void (*fire)(struct waiter *w, enum waiter_reason why);
    void *arg;
    /* private to the registry */
    struct waiter *next, *prev; /* account bucket list; `next` reused for firing */
    size_t heap_idx;
    bool registered;
};

SP_WARN_UNUSED sp_status waiters_create(struct waiters **out, struct metrics *metrics);
/* Shut down (if not yet), stop the timer thread and free. NULL-safe. */
void waiters_destroy(struct waiters *ws);

/* Register w (account, deadline_ms, fire, arg set by the caller).
 * SP_ERR_UNAVAILABLE after waiters_shutdown(): w is not registered. */
SP_WARN_UNUSED sp_status waiters_add(struct waiters *ws, struct waiter *w);
/* true: w was still registered and is now removed; fire() will never run.
 * false: w has fired or is about to fire (exactly once). */
bool waiters_cancel(struct waiters *ws, struct waiter *w);
/* Fire every waiter of `account` with WAITER_MAIL. */
void waiters_notify(struct waiters *ws, int64_t account);
/* Fire every waiter with WAITER_SHUTDOWN; later waiters_add() fail. */
void waiters_shutdown(struct waiters *ws);
/* Number of registered waiters (tests, metrics). */
size_t waiters_count(struct waiters *ws);

#endif
