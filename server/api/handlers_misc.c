/*
 * handlers_misc.c: limits, health, ready and metrics (see handlers.h).
 * None of them needs a token; none reveals anything about accounts.
 */
#include "server/api/handlers.h"

HANDLER(handle_limits)
{
    (void)cs;
    sp_status st = wire_encode_limits(&call->resp.body, api->limits);
    if (st != SP_OK) {
        api_reply_error(api, call, st, "%s", sp_strerror(st));
        return API_DONE;
    }
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

/* Liveness: the process answers. */
HANDLER(handle_health)
{
    (void)cs;
    api_reply_text(api, call, 200, "ok\n");
    return API_DONE;
}

/* Readiness: not shutting down, and a real query on a pooled connection
 * succeeds. */
HANDLER(handle_ready)
{
    (void)cs;
    struct store_conn *c = NULL;
    uint32_t pending = 0;
    sp_status st = SP_OK;

    if (atomic_load(&api->shutting_down)) {
        api_reply_error(api, call, SP_ERR_UNAVAILABLE, "relay is shutting down");
        return API_DONE;
    }
    st = store_conn_get(api->store, &c);
    if (st == SP_OK) {
        st = store_mail_pending(c, 0, &pending);
        store_conn_put(api->store, c);
    }
    if (st != SP_OK) {
        api_reply_error(api, call, SP_ERR_UNAVAILABLE, "database unusable: %s", sp_status_name(st));
        return API_DONE;
    }
    api_reply_text(api, call, 200, "ready\n");
    return API_DONE;
}

HANDLER(handle_metrics)
{
    (void)cs;
    sp_status st = api_metrics_text(api, &call->resp.body);
    if (st != SP_OK) {
        api_reply_error(api, call, st, "%s", sp_strerror(st));
        return API_DONE;
    }
    api_reply_ok(call, 200, API_CT_METRICS);
    return API_DONE;
}
