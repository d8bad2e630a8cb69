/*
 * reply.c: building responses. Every error body of the relay is made here:
 * a protobuf Error whose code is the sp_status, with the HTTP status taken
 * from api_http_status() only. Messages name fields and item indexes, never
 * values (no addresses, tokens or contents).
 */
#include <stdio.h>
#include <string.h>

#include "server/api/api_internal.h"

void api_reply_ok(struct api_call *call, unsigned http_status, const char *content_type)
{
    call->resp.http_status = http_status;
    call->resp.content_type = content_type;
    call->resp.retry_after_s = 0;
}

void api_reply_error_ex(struct api *api, struct api_call *call, const struct wire_error *e)
{
    (void)api;
    buf_reset(&call->resp.body);
    call->resp.http_status = api_http_status(e->code);
    call->resp.retry_after_s = e->retry_after_s;
    /* Every 503 tells the client when to come back (docs/PROTOCOL.md §4). */
    if (call->resp.retry_after_s == 0 && (e->code == SP_ERR_UNAVAILABLE || e->code == SP_ERR_NOMEM))
        call->resp.retry_after_s = API_RETRY_AFTER_503_S;
    call->resp.content_type = API_CT_PROTOBUF;
    struct wire_error copy = *e;
    copy.retry_after_s = call->resp.retry_after_s;
    if (wire_encode_error(&call->resp.body, &copy) != SP_OK) {
        /* Only allocation can fail here; answer with the status alone. */
        buf_reset(&call->resp.body);
        call->resp.content_type = NULL;
    }
}

__attribute__((format(printf, 4, 0))) static void
vreply(struct api *api, struct api_call *call, struct wire_error *e, const char *fmt, va_list ap)
{
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    api_reply_error_ex(api, call, e);
}

void api_reply_error(struct api *api, struct api_call *call, sp_status st, const char *fmt, ...)
{
    struct wire_error e = {.code = st};
    va_list ap;
    va_start(ap, fmt);
    vreply(api, call, &e, fmt, ap);
    va_end(ap);
}

void api_reply_error_at(struct api *api, struct api_call *call, sp_status st, uint32_t index,
                        const char *fmt, ...)
{
    struct wire_error e = {.code = st, .has_index = true, .index = index};
    va_list ap;
    va_start(ap, fmt);
    vreply(api, call, &e, fmt, ap);
    va_end(ap);
}

/* Short reason per decode status, worded for the field it follows. */
static const char *decode_reason(sp_status st)
{
    switch (st) {
    case SP_ERR_MALFORMED:
        return "not a valid protobuf message (truncated or corrupt)";
    case SP_ERR_INVALID_FIELD:
        return "missing, wrong length or out of range";
    case SP_ERR_UNSUPPORTED_VERSION:
        return "unsupported version";
    case SP_ERR_TOO_LARGE:
        return "too large";
    case SP_ERR_TOO_MANY:
        return "too many items";
    default:
        return sp_strerror(st);
    }
}

void api_reply_decode_error(struct api *api, struct api_call *call, sp_status st,
                            const struct wire_diag *diag)
{
    struct wire_error e = {.code = st};
    const char *field = diag != NULL ? diag->field : NULL;
    int index = diag != NULL ? diag->index : -1;

    if (field == NULL) {
        snprintf(e.message, sizeof e.message, "body: %s", decode_reason(st));
    } else if (index < 0) {
        snprintf(e.message, sizeof e.message, "%s: %s", field, decode_reason(st));
    } else {
        /* "envelopes.recipient" + 3 -> "envelopes[3].recipient" */
        const char *dot = strchr(field, '.');
        int head = dot != NULL ? (int)(dot - field) : (int)strlen(field);
        snprintf(e.message, sizeof e.message, "%.*s[%d]%s: %s", head, field, index,
                 dot != NULL ? dot : "", decode_reason(st));
        e.has_index = true;
        e.index = (uint32_t)index;
    }
    api_reply_error_ex(api, call, &e);
}

void api_reply_text(struct api *api, struct api_call *call, unsigned http_status, const char *text)
{
    buf_reset(&call->resp.body);
    if (buf_append_str(&call->resp.body, text) != SP_OK) {
        api_reply_error(api, call, SP_ERR_NOMEM, "out of memory");
        return;
    }
    api_reply_ok(call, http_status, API_CT_TEXT);
}
