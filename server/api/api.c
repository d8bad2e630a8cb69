/*
 * api.c: the API's life cycle and the per-request pipeline (see api.h).
 *
 * Pipeline of a new call: route (404/405) -> body cap (413) -> Content-Type
 * (415) -> bearer authentication when the route needs it (401) -> handler.
 * A handler that returns API_PENDING has set cs->resume; the next
 * api_handle() on that call runs it. Requests are counted in the metrics
 * when their response is final.
 *
 * Thread rules: api_handle() runs concurrently on HTTP worker threads for
 * different calls; for one call the HTTP layer serialises the calls.
 * Shutdown: api_shutdown() refuses new writes and long-polls, drains the
 * writer (every queued write completes and wakes its call) and fires every
 * long-poll; api_destroy() then stops the threads and frees.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "server/api/api_internal.h"
#include "server/api/handlers.h"
#include "server/config.h"

/* Response bodies are built by us, never from untrusted growth; the cap only
 * guards against bugs. Large enough for a fetch page at the hard ceilings. */
#define API_RESP_CAP (SP_HARD_MAX_BODY_BYTES + 2u * SP_HARD_MAX_ENVELOPE_BYTES + 256u * 1024)

#define TOKEN_CACHE_SLOTS  8192
#define AUTH_LIMIT_SLOTS   16384
#define BUNDLE_LIMIT_SLOTS 65536

sp_status api_create(struct api **out, const struct api_options *opt)
{
    sp_status st = SP_OK;
    struct api *api = NULL;

    *out = NULL;
    ENSURE(opt != NULL && opt->config != NULL && opt->store != NULL && opt->clock != NULL,
           SP_ERR_USAGE);
    api = calloc(1, sizeof *api);
    ENSURE(api != NULL, SP_ERR_NOMEM);
    api->config = opt->config;
    api->limits = &opt->config->limits;
    api->store = opt->store;
    api->clock = opt->clock;
    api->resp_cap = API_RESP_CAP;
    api->metrics_extra = opt->metrics_extra;
    api->metrics_extra_ctx = opt->metrics_extra_ctx;
    atomic_init(&api->shutting_down, false);
    metrics_init(&api->metrics);
    TRY(auth_create(&api->auth, TOKEN_CACHE_SLOTS));
    TRY(ratelimit_create(&api->auth_limit, opt->config->auth_rate_per_minute, 60,
                         AUTH_LIMIT_SLOTS));
    TRY(ratelimit_create(&api->bundle_limit, api->limits->bundle_fetches_per_target,
                         api->limits->bundle_fetch_window_s, BUNDLE_LIMIT_SLOTS));
    TRY(waiters_create(&api->waiters, &api->metrics));
    TRY(writer_start(&api->writer, api->store, &api->metrics));
    *out = api;
    api = NULL;
out:
    api_destroy(api);
    return st;
}

void api_shutdown(struct api *api)
{
    if (api == NULL)
        return;
    atomic_store(&api->shutting_down, true);
    if (api->writer != NULL)
        writer_stop(api->writer); /* drains: every queued write completes */
    if (api->waiters != NULL)
        waiters_shutdown(api->waiters);
}

void api_destroy(struct api *api)
{
    if (api == NULL)
        return;
    api_shutdown(api);
    writer_destroy(api->writer);
    waiters_destroy(api->waiters);
    ratelimit_destroy(api->bundle_limit);
    ratelimit_destroy(api->auth_limit);
    auth_destroy(api->auth);
    free(api);
}

void api_call_init(struct api_call *call)
{
    call->resp = (struct api_response){0};
    buf_init(&call->resp.body, API_RESP_CAP);
}

void api_call_release(struct api *api, struct api_call *call)
{
    (void)api;
    struct call_state *cs = call->state;
    bool secret = false;
    if (cs != NULL) {
        secret = cs->secret_body;
        if (cs->ctx_free != NULL)
            cs->ctx_free(cs->ctx);
        else
            free(cs->ctx);
        free(cs);
        call->state = NULL;
    }
    if (secret)
        buf_free_secret(&call->resp.body);
    else
        buf_free(&call->resp.body);
    call->resp.allow = NULL;
}

sp_status api_metrics_text(struct api *api, struct buf *out)
{
    sp_status st = metrics_render(&api->metrics, out);
    if (st == SP_OK && api->metrics_extra != NULL)
        st = api->metrics_extra(api->metrics_extra_ctx, out);
    return st;
}

void api_forget_tokens(void *ctx)
{
    struct api *api = ctx;
    auth_cache_clear(api->auth);
}

void *handler_ctx_new(struct call_state *cs, size_t size, void (*ctx_free)(void *ctx))
{
    void *p = calloc(1, size);
    if (p == NULL)
        return NULL;
    cs->ctx = p;
    cs->ctx_free = ctx_free;
    return p;
}

void api_pending_done(void *arg, sp_status st)
{
    struct api_pending *p = arg;
    struct api_call *call = p->call;
    p->status = st;
    call->wake(call); /* the call may be re-entered from here on: touch nothing */
}

enum api_result api_submit(struct api *api, struct api_call *call, struct call_state *cs,
                           struct api_pending *p, api_run_fn run, api_resume_fn resume)
{
    p->api = api;
    p->call = call;
    p->status = SP_ERR_INTERNAL;
    p->job.run = run;
    p->job.arg = p;
    if (p->job.done == NULL)
        p->job.done = api_pending_done;
    cs->resume = resume;
    sp_status st = writer_submit(api->writer, &p->job);
    if (st != SP_OK) {
        cs->resume = NULL;
        api_reply_error(api, call, st, "relay is shutting down");
        return API_DONE;
    }
    return API_PENDING;
}

/* "application/x-protobuf", case-insensitive, optionally followed by
 * parameters ("; charset=..."), which are ignored. */
static bool is_protobuf(const char *ct)
{
    static const char want[] = "application/x-protobuf";
    if (ct == NULL || strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static enum api_result dispatch(struct api *api, struct api_call *call, struct call_state *cs)
{
    const struct api_request *rq = &call->req;

    switch (
        router_find(rq->method, rq->path, &cs->route, &cs->param, cs->allow, sizeof cs->allow)) {
    case ROUTER_NOT_FOUND:
        api_reply_error(api, call, SP_ERR_NOT_FOUND, "no such endpoint");
        return API_DONE;
    case ROUTER_BAD_METHOD:
        api_reply_error(api, call, SP_ERR_METHOD_NOT_ALLOWED, "method not allowed; allowed: %s",
                        cs->allow);
        call->resp.allow = cs->allow;
        return API_DONE;
    case ROUTER_FOUND:
        break;
    }
    if (rq->body_too_large) {
        api_reply_error(api, call, SP_ERR_TOO_LARGE, "body: larger than max_body_bytes (%u)",
                        (unsigned)api->limits->max_body_bytes);
        return API_DONE;
    }
    if (rq->body_len > 0 && !is_protobuf(rq->content_type)) {
        api_reply_error(api, call, SP_ERR_UNSUPPORTED_MEDIA,
                        "Content-Type: must be application/x-protobuf");
        return API_DONE;
    }
    if (cs->route->needs_auth) {
        int why = 0;
        sp_status st =
            auth_bearer(api->auth, api->store, rq->authorization, api_now(api), &cs->account, &why);
        if (st != SP_OK) {
            if (st == SP_ERR_UNAUTHENTICATED) {
                metrics_auth_failure(&api->metrics,
                                     why == 0 ? AUTH_FAIL_MISSING_TOKEN : AUTH_FAIL_UNKNOWN_TOKEN);
                api_reply_error(api, call, st,
                                why == 0 ? "Authorization: expected \"Bearer\" and a 43-character "
                                           "base64url token"
                                         : "Authorization: unknown or expired token");
            } else {
                api_reply_error(api, call, st, "token lookup failed: %s", sp_strerror(st));
            }
            return API_DONE;
        }
    }
    return cs->route->handler(api, call, cs);
}

enum api_result api_handle(struct api *api, struct api_call *call)
{
    struct call_state *cs = call->state;
    enum api_result r;

    if (cs == NULL) {
        cs = calloc(1, sizeof *cs);
        if (cs == NULL) {
            api_reply_error(api, call, SP_ERR_NOMEM, "out of memory");
            metrics_request(&api->metrics, router_count(), call->resp.http_status);
            return API_DONE;
        }
        call->state = cs;
        r = dispatch(api, call, cs);
    } else if (cs->resume != NULL) {
        api_resume_fn resume = cs->resume;
        cs->resume = NULL;
        r = resume(api, call);
    } else {
        /* Re-entered after the response was made: keep it. */
        return API_DONE;
    }
    if (r == API_DONE) {
        size_t idx = cs->route != NULL ? router_index(cs->route) : router_count();
        metrics_request(&api->metrics, idx, call->resp.http_status);
    }
    return r;
}
