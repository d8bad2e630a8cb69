/*
 * api_internal.h: what the files of server/api/ share and nothing else sees.
 *
 * struct api is the relay's request-handling context: configuration, store,
 * clock, and the long-lived helpers (writer thread, long-poll registry, rate
 * limiters, token cache, metrics). It is created once and shared by every
 * HTTP worker thread; every member is either read-only after api_create() or
 * internally synchronised.
 *
 * struct call_state is what the API attaches to a struct api_call (its
 * `state`). A handler that returns API_PENDING sets `resume` and hands the
 * call to another thread (writer or long-poll); from that moment it must not
 * touch the call or its state until the re-entry through api_handle(). The
 * handler's own data hangs off `ctx` and is freed by `ctx_free` in
 * api_call_release().
 */
#ifndef SEALPOST_SERVER_API_INTERNAL_H
#define SEALPOST_SERVER_API_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/status.h"
#include "common/wire.h"
#include "server/api/api.h"
#include "server/api/auth.h"
#include "server/api/metrics.h"
#include "server/api/ratelimit.h"
#include "server/api/router.h"
#include "server/api/waiters.h"
#include "server/api/writer.h"
#include "server/store/store.h"

/* Content types of responses (static strings). */
#define API_CT_PROTOBUF "application/x-protobuf"
#define API_CT_TEXT     "text/plain; charset=utf-8"
#define API_CT_METRICS  "text/plain; version=0.0.4; charset=utf-8"

/* Retry-After of a 503 that has no better estimate. */
#define API_RETRY_AFTER_503_S 2

struct api {
    const struct config *config;
    const struct sp_limits *limits; /* &config->limits */
    struct store *store;
    const struct sp_clock *clock;
    struct metrics metrics;
    struct auth *auth;
    struct ratelimit *auth_limit;   /* register/token per client_key */
    struct ratelimit *bundle_limit; /* bundle per (requester, target) */
    struct waiters *waiters;
    struct writer *writer;
    atomic_bool shutting_down;
    size_t resp_cap; /* cap of every response body */
    sp_status (*metrics_extra)(void *ctx, struct buf *out); /* may be NULL */
    void *metrics_extra_ctx;
};

struct call_state {
    const struct route *route; /* NULL when no route matched */
    const char *param;         /* path parameter of a prefix route (points into req.path) */
    int64_t account;           /* authenticated caller; 0 when the route needs none */
    /* Set by a handler before it returns API_PENDING; api_handle() calls it
     * (once) when the call comes back after wake(). */
    enum api_result (*resume)(struct api *api, struct api_call *call);
    void *ctx; /* handler data, owned */
    void (*ctx_free)(void *ctx);
    bool secret_body; /* response holds a secret (token): wipe on release */
    char allow[48];   /* value of the Allow header of a 405 */
};

static inline struct call_state *call_state(struct api_call *call)
{
    return call->state;
}

/* ---- responses (reply.c). Every error body is built by api_reply_error_ex():
 * it sets http_status = api_http_status(code), retry_after_s, the protobuf
 * Error body and its content type. */
void api_reply_error_ex(struct api *api, struct api_call *call, const struct wire_error *e);
void api_reply_error(struct api *api, struct api_call *call, sp_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_reply_error_at(struct api *api, struct api_call *call, sp_status st, uint32_t index,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A decoder failure: message names the field and item ("prekeys[3].public_key"). */
void api_reply_decode_error(struct api *api, struct api_call *call, sp_status st,
                            const struct wire_diag *diag);
/* Success: body already encoded into call->resp.body by the caller. */
void api_reply_ok(struct api_call *call, unsigned http_status, const char *content_type);
/* Plain-text success (health, ready). */
void api_reply_text(struct api *api, struct api_call *call, unsigned http_status, const char *text);

/* ---- writes through the group-commit writer (api.c).
 * A handler context that writes starts with a struct api_pending. The job's
 * done() stores the final status and wakes the call; the resume function
 * then turns `status` and the context's results into the response. */
struct api_pending {
    struct writer_job job;
    struct api *api;
    struct api_call *call;
    sp_status status;
};
typedef sp_status (*api_run_fn)(struct store_conn *c, void *ctx);
typedef enum api_result (*api_resume_fn)(struct api *api, struct api_call *call);
/* Submit p (the first member of cs->ctx) with run(); done = api_pending_done
 * unless p->job.done is already set. Sets cs->resume before submitting and
 * returns API_PENDING; if the writer refuses (shutdown) it answers the error
 * itself and returns API_DONE. After API_PENDING the caller must not touch
 * the call or its state. */
enum api_result api_submit(struct api *api, struct api_call *call, struct call_state *cs,
                           struct api_pending *p, api_run_fn run, api_resume_fn resume);
/* Default done(): p->status = st, then p->call->wake(p->call). */
void api_pending_done(void *arg, sp_status st);

/* Current relay time (the injected clock). */
static inline uint64_t api_now(const struct api *api)
{
    return sp_clock_now(api->clock);
}

#endif
