/*
 * handlers_mail.c: send, fetch (with long-poll) and ack (see handlers.h).
 *
 * Send is one writer job: every envelope of the request is stored in the
 * job's savepoint or none is (unknown recipient, full mailbox). After the
 * commit, the job's done() wakes long-polls of the recipients that got new
 * mail. The sender is authenticated but appears nowhere in what is stored.
 *
 * Fetch reads on a pooled connection. With wait > 0 and nothing pending it
 * parks a waiter (no thread blocks) and re-reads once after registering, so
 * mail committed between the first read and the registration is not missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/api/handlers.h"

static enum api_result reply_status(struct api *api, struct api_call *call, sp_status st)
{
    api_reply_error(api, call, st, "%s", sp_strerror(st));
    return API_DONE;
}

/* ------------------------------------------------------------------ send */

struct send_ctx {
    struct api_pending p; /* first */
    struct wire_send req;
    int64_t *recipients; /* per envelope */
    bool *fresh;         /* per envelope: newly stored */
    const struct sp_limits *lim;
    uint64_t now;
    uint32_t stored, duplicates;
    uint32_t fail_index;
};

static void send_ctx_free(void *ctx)
{
    struct send_ctx *s = ctx;
    if (s == NULL)
        return;
    wire_send_free(&s->req);
    free(s->recipients);
    free(s->fresh);
    free(s);
}

static sp_status send_run(struct store_conn *c, void *arg)
{
    struct send_ctx *s = arg;
    sp_status st = SP_OK;
    s->stored = s->duplicates = 0;
    for (size_t i = 0; i < s->req.n; i++) {
        const struct wire_out_envelope *e = &s->req.envelopes[i];
        bool known = false, dup = false;
        s->fail_index = (uint32_t)i;
        /* Batches often repeat a recipient: reuse its id. */
        for (size_t j = i; j-- > 0;) {
            if (memcmp(s->req.envelopes[j].recipient, e->recipient, SP_ADDRESS_LEN) == 0) {
                s->recipients[i] = s->recipients[j];
                known = true;
                break;
            }
        }
        if (!known) {
            struct store_account acct;
            TRY(store_account_by_address(c, e->recipient, &acct));
            s->recipients[i] = acct.id;
        }
        TRY(store_mail_put(c, s->recipients[i], e->message_id, e->content, e->content_len, s->now,
                           s->lim, &dup));
        s->fresh[i] = !dup;
        if (dup)
            s->duplicates++;
        else
            s->stored++;
    }
out:
    return st;
}

/* Runs on the writer thread after the commit. */
static void send_done(void *arg, sp_status st)
{
    struct send_ctx *s = arg;
    if (st == SP_OK) {
        int64_t last = 0;
        for (size_t i = 0; i < s->req.n; i++) {
            if (!s->fresh[i] || s->recipients[i] == last)
                continue;
            last = s->recipients[i];
            waiters_notify(s->p.api->waiters, last); /* a repeat finds nobody: harmless */
        }
    }
    api_pending_done(&s->p, st); /* last: the call may go away after this */
}

static enum api_result send_resume(struct api *api, struct api_call *call)
{
    struct send_ctx *s = call_state(call)->ctx;
    switch (s->p.status) {
    case SP_OK:
        break;
    case SP_ERR_NOT_FOUND:
        api_reply_error_at(api, call, SP_ERR_NOT_FOUND, s->fail_index,
                           "envelopes[%u].recipient: no such account; nothing was stored",
                           (unsigned)s->fail_index);
        return API_DONE;
    case SP_ERR_MAILBOX_FULL:
        api_reply_error_at(api, call, SP_ERR_MAILBOX_FULL, s->fail_index,
                           "envelopes[%u].recipient: mailbox full; nothing was stored",
                           (unsigned)s->fail_index);
        return API_DONE;
    default:
        return reply_status(api, call, s->p.status);
    }
    struct wire_send_response resp = {.stored = s->stored, .duplicates = s->duplicates};
    sp_status st = wire_encode_send_response(&call->resp.body, &resp);
    if (st != SP_OK)
        return reply_status(api, call, st);
    metrics_add(&api->metrics, M_ENVELOPES_STORED, s->stored);
    metrics_add(&api->metrics, M_ENVELOPES_DUPLICATE, s->duplicates);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

HANDLER(handle_send)
{
    const struct sp_limits *lim = api->limits;
    struct wire_diag diag = {NULL, -1};
    struct send_ctx *s = handler_ctx_new(cs, sizeof *s, send_ctx_free);
    if (s == NULL)
        return reply_status(api, call, SP_ERR_NOMEM);
    sp_status st = wire_decode_send(&s->req, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    if (s->req.n > lim->max_envelopes_per_request) {
        api_reply_error(api, call, SP_ERR_TOO_MANY, "envelopes: at most %u per request",
                        (unsigned)lim->max_envelopes_per_request);
        return API_DONE;
    }
    /* Whole batch, one check at a time, in the documented order (framing,
     * then size), before anything is stored. The decoder already checked
     * the framing; checking again keeps this handler correct on its own. */
    for (size_t i = 0; i < s->req.n; i++) {
        const struct wire_out_envelope *e = &s->req.envelopes[i];
        st = wire_check_sealed(e->content, e->content_len);
        if (st != SP_OK) {
            api_reply_error_at(api, call, st, (uint32_t)i,
                               "envelopes[%zu].content: not a sealed envelope (%s)", i,
                               sp_strerror(st));
            return API_DONE;
        }
    }
    for (size_t i = 0; i < s->req.n; i++) {
        if (s->req.envelopes[i].content_len > lim->max_envelope_bytes) {
            api_reply_error_at(api, call, SP_ERR_TOO_LARGE, (uint32_t)i,
                               "envelopes[%zu].content: larger than max_envelope_bytes (%u)", i,
                               (unsigned)lim->max_envelope_bytes);
            return API_DONE;
        }
    }
    s->recipients = calloc(s->req.n, sizeof *s->recipients);
    s->fresh = calloc(s->req.n, sizeof *s->fresh);
    if (s->recipients == NULL || s->fresh == NULL)
        return reply_status(api, call, SP_ERR_NOMEM);
    s->lim = lim;
    s->now = api_now(api);
    s->p.job.done = send_done;
    return api_submit(api, call, cs, &s->p, send_run, send_resume);
}

/* ------------------------------------------------------------------ fetch */

struct fetch_ctx {
    struct waiter waiter;
    struct api_call *call;
    int64_t account;
    uint64_t after;
    uint32_t limit;
    uint32_t wait_s;
};

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Content bytes per page: max_body_bytes minus the protobuf framing of up
 * to `limit` envelopes (id, lengths, hour: < 40 bytes each) and the cursor,
 * so a page never exceeds max_body_bytes (the first envelope always fits:
 * config keeps max_body_bytes >= max_envelope_bytes + 64). */
static size_t page_bytes(const struct api *api, uint32_t limit)
{
    size_t body = api->limits->max_body_bytes;
    size_t reserve = (size_t)limit * 40 + 64;
    return body > reserve ? body - reserve : 1;
}

/* Read one page and, if `answer_empty` or it holds mail, encode it as the
 * response. *had_mail tells whether anything was read. */
static sp_status fetch_page(struct api *api, struct api_call *call, struct fetch_ctx *f,
                            bool answer_empty, bool *had_mail)
{
    struct store_mail_page page = {0};
    struct wire_envelope *env = NULL;
    struct store_conn *c = NULL;
    sp_status st;

    *had_mail = false;
    TRY(store_conn_get(api->store, &c));
    /* Storage positions are SQL integers (<= INT64_MAX): any cursor past that
     * is past everything, and the store refuses to bind it. */
    uint64_t after = f->after > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : f->after;
    st = store_mail_fetch(c, f->account, after, f->limit, page_bytes(api, f->limit), &page);
    store_conn_put(api->store, c);
    if (st != SP_OK)
        goto out;
    *had_mail = page.n > 0;
    if (page.n == 0 && !answer_empty)
        goto out;
    if (page.n > 0) {
        env = calloc(page.n, sizeof *env);
        ENSURE(env != NULL, SP_ERR_NOMEM);
    }
    for (size_t i = 0; i < page.n; i++) {
        memcpy(env[i].message_id, page.items[i].message_id, SP_MESSAGE_ID_LEN);
        env[i].content = page.items[i].content;
        env[i].content_len = page.items[i].content_len;
        env[i].received_hour = page.items[i].received_hour;
    }
    uint64_t cursor = page.n > 0 ? page.items[page.n - 1].seq : f->after;
    buf_reset(&call->resp.body);
    TRY(wire_encode_fetch(&call->resp.body, env, page.n, cursor, page.more));
    metrics_add(&api->metrics, M_ENVELOPES_FETCHED, page.n);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
out:
    free(env);
    store_mail_page_free(&page);
    return st;
}

static void fetch_fire(struct waiter *w, enum waiter_reason why)
{
    (void)why;
    struct fetch_ctx *f = w->arg;
    f->call->wake(f->call); /* the call may be re-entered from here on */
}

static enum api_result fetch_resume(struct api *api, struct api_call *call)
{
    struct fetch_ctx *f = call_state(call)->ctx;
    bool had_mail;
    sp_status st = fetch_page(api, call, f, true, &had_mail);
    if (st != SP_OK)
        return reply_status(api, call, st);
    return API_DONE;
}

HANDLER(handle_fetch)
{
    const struct sp_limits *lim = api->limits;
    const struct api_request *rq = &call->req;
    uint64_t v;
    bool had_mail;
    sp_status st;

    struct fetch_ctx *f = handler_ctx_new(cs, sizeof *f, NULL);
    if (f == NULL)
        return reply_status(api, call, SP_ERR_NOMEM);
    f->call = call;
    f->account = cs->account;
    f->limit = lim->fetch_max_envelopes;
    if (rq->q_limit != NULL) {
        if (!parse_u64(rq->q_limit, &v) || v < 1 || v > lim->fetch_max_envelopes) {
            api_reply_error(api, call, SP_ERR_INVALID_FIELD, "limit: must be 1..%u",
                            (unsigned)lim->fetch_max_envelopes);
            return API_DONE;
        }
        f->limit = (uint32_t)v;
    }
    if (rq->q_after != NULL) {
        if (!parse_u64(rq->q_after, &v)) {
            api_reply_error(api, call, SP_ERR_INVALID_FIELD,
                            "after: must be a cursor from a previous page");
            return API_DONE;
        }
        f->after = v;
    }
    if (rq->q_wait != NULL) {
        if (!parse_u64(rq->q_wait, &v) || v > UINT32_MAX) {
            api_reply_error(api, call, SP_ERR_INVALID_FIELD, "wait: must be 0..%u seconds",
                            (unsigned)lim->max_wait_s);
            return API_DONE;
        }
        f->wait_s = v > lim->max_wait_s ? lim->max_wait_s : (uint32_t)v;
    }

    bool wait = f->wait_s > 0;
    if (wait && atomic_load(&api->shutting_down)) {
        api_reply_error(api, call, SP_ERR_UNAVAILABLE, "relay is shutting down");
        return API_DONE;
    }
    st = fetch_page(api, call, f, !wait, &had_mail);
    if (st != SP_OK)
        return reply_status(api, call, st);
    if (had_mail || !wait)
        return API_DONE;

    /* Nothing yet: park the call. */
    f->waiter.account = f->account;
    f->waiter.deadline_ms = sp_monotonic_ms() + (uint64_t)f->wait_s * 1000;
    f->waiter.fire = fetch_fire;
    f->waiter.arg = f;
    cs->resume = fetch_resume;
    st = waiters_add(api->waiters, &f->waiter);
    if (st != SP_OK) {
        cs->resume = NULL;
        api_reply_error(api, call, st, "relay is shutting down");
        return API_DONE;
    }
    /* Mail committed before the waiter was registered notified nobody:
     * look once more. */
    st = fetch_page(api, call, f, false, &had_mail);
    if ((st != SP_OK || had_mail) && waiters_cancel(api->waiters, &f->waiter)) {
        cs->resume = NULL;
        return st == SP_OK ? API_DONE : reply_status(api, call, st);
    }
    /* Either still empty (the waiter will fire), or it fired meanwhile and
     * fetch_resume() will read again. Any page encoded above is replaced. */
    return API_PENDING;
}

/* ------------------------------------------------------------------ ack */

struct ack_ctx {
    struct api_pending p; /* first */
    struct wire_ack ack;
    int64_t account;
    uint32_t deleted;
};

static void ack_ctx_free(void *ctx)
{
    struct ack_ctx *a = ctx;
    if (a == NULL)
        return;
    wire_ack_free(&a->ack);
    free(a);
}

static sp_status ack_run(struct store_conn *c, void *arg)
{
    struct ack_ctx *a = arg;
    return store_mail_ack(c, a->account, (const uint8_t(*)[SP_MESSAGE_ID_LEN])a->ack.ids, a->ack.n,
                          &a->deleted);
}

static enum api_result ack_resume(struct api *api, struct api_call *call)
{
    struct ack_ctx *a = call_state(call)->ctx;
    if (a->p.status != SP_OK)
        return reply_status(api, call, a->p.status);
    sp_status st = wire_encode_ack_response(&call->resp.body, a->deleted);
    if (st != SP_OK)
        return reply_status(api, call, st);
    metrics_add(&api->metrics, M_ENVELOPES_ACKED, a->deleted);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

HANDLER(handle_ack)
{
    struct wire_diag diag = {NULL, -1};
    struct ack_ctx *a = handler_ctx_new(cs, sizeof *a, ack_ctx_free);
    if (a == NULL)
        return reply_status(api, call, SP_ERR_NOMEM);
    sp_status st = wire_decode_ack(&a->ack, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    if (a->ack.n > api->limits->max_ack_ids) {
        api_reply_error(api, call, SP_ERR_TOO_MANY, "message_ids: at most %u per request",
                        (unsigned)api->limits->max_ack_ids);
        return API_DONE;
    }
    a->account = cs->account;
    return api_submit(api, call, cs, &a->p, ack_run, ack_resume);
}
