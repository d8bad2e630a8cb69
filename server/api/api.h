/*
 * api.h: the relay's request handling, independent of the HTTP library.
 *
 * The HTTP layer (server/http/, the only user of libmicrohttpd) collects a
 * request with a capped body into a struct api_call and calls api_handle().
 * The API routes it through one table (method, path) -> handler, decodes and
 * validates with common/wire, authenticates, talks to the store, and fills
 * call->resp. Handlers never choose HTTP statuses ad hoc: a failed call is an
 * sp_status mapped to HTTP by one table (api_http_status()).
 *
 * Asynchronous completion. api_handle() returns API_DONE when call->resp is
 * ready, or API_PENDING when the call waits: for the writer thread's group
 * commit, or for mail in a long-poll. A pending call is completed later, from
 * another thread, by exactly one call of call->wake(call). The HTTP layer
 * then calls api_handle() again on the same call, which returns API_DONE.
 * wake() may run before api_handle() has returned API_PENDING; the HTTP layer
 * must handle that race (see http.c). Between PENDING and wake the call and
 * its request bytes stay alive; api_call_release() frees what the API
 * attached to the call and is called exactly once, after the response.
 *
 * Thread rules: api_handle() runs on any HTTP worker thread, concurrently for
 * different calls; struct api is shared and internally synchronised.
 */
#ifndef SEALPOST_SERVER_API_H
#define SEALPOST_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/status.h"

struct api;
struct config;
struct store;

enum api_method { API_GET, API_POST, API_PUT, API_DELETE, API_HEAD, API_OTHER };

struct api_request {
    enum api_method method;
    const char *path;          /* without query string, NUL-terminated */
    const char *authorization; /* Authorization header or NULL */
    const char *content_type;  /* Content-Type header or NULL */
    /* query arguments used by GET /v1/messages; NULL when absent */
    const char *q_limit, *q_after, *q_wait;
    const uint8_t *body;       /* capped by the HTTP layer at max_body_bytes */
    size_t body_len;
    bool body_too_large;       /* the HTTP layer stopped reading past the cap */
    /* Per-client key for in-memory rate limits: a keyed hash of the peer IP,
     * never stored or logged. 0 if unknown. */
    uint64_t client_key;
};

struct api_response {
    unsigned http_status;
    const char *content_type;  /* static string */
    struct buf body;           /* owned by the call; freed by api_call_release */
    uint32_t retry_after_s;    /* > 0: send a Retry-After header */
    const char *allow;         /* non-NULL (405 only): send an Allow header with this value;
                                  owned by the call, valid until api_call_release() */
};

enum api_result { API_DONE, API_PENDING };

struct api_call {
    struct api_request req;
    struct api_response resp;
    /* Set by the HTTP layer before the first api_handle(). */
    void (*wake)(struct api_call *call);
    void *http_ctx;
    /* Owned by the API between calls; NULL initially. */
    void *state;
};

struct api_options {
    const struct config *config;
    struct store *store;
    const struct sp_clock *clock; /* sp_clock_system() in production */
    /* Optional extra Prometheus text appended to GET /metrics (the retention
     * pruner's counters, server/pruner.h). Called on an HTTP worker thread. */
    sp_status (*metrics_extra)(void *ctx, struct buf *out);
    void *metrics_extra_ctx;
};

/* Start the API: the writer (group commit) thread and the long-poll timer.
 * *out is owned by the caller; free with api_destroy(). */
SP_WARN_UNUSED sp_status api_create(struct api **out, const struct api_options *opt);
/* Wake every pending call (they answer UNAVAILABLE or with what they have)
 * and refuse new work. Call before stopping the HTTP server. */
void api_shutdown(struct api *api);
/* Stop threads and free. NULL-safe. Call after the HTTP server has stopped. */
void api_destroy(struct api *api);

/* Initialise call->resp; call once before the first api_handle(). */
void api_call_init(struct api_call *call);
enum api_result api_handle(struct api *api, struct api_call *call);
/* Free what the API attached to the call (state, response body). */
void api_call_release(struct api *api, struct api_call *call);

/* The single status -> HTTP mapping. */
unsigned api_http_status(sp_status st);

/* Forget every cached bearer token, so that tokens of accounts just deleted
 * (the retention pruner's idle-account expiry) stop working at once instead
 * of at the next hour boundary. Thread-safe; the next request of every live
 * token pays one store lookup. The signature fits pruner_options'
 * accounts_deleted hook (ctx = struct api). */
void api_forget_tokens(void *api);

/* Prometheus text exposition of the aggregate metrics (GET /metrics). */
SP_WARN_UNUSED sp_status api_metrics_text(struct api *api, struct buf *out);

#endif
