/*
 * handlers_account.c: register, token, one-time prekeys, signed prekey and
 * bundle (see handlers.h).
 *
 * Order of checks in every handler: cheap limits first (rate limit, decode,
 * counts, timestamp window), then signature verification, then the store.
 * Everything that writes (including the replay record of a proof) runs in
 * one writer job, so a request that fails anywhere leaves nothing stored.
 * Messages name fields, never values; no address, token or IP is logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/crypto.h"
#include "common/secmem.h"
#include "server/api/handlers.h"
#include "server/config.h"

/* Per-client limit on the endpoints that cost a signature verification. */
static bool auth_rate_ok(struct api *api, struct api_call *call)
{
    struct ratelimit_result r =
        ratelimit_take(api->auth_limit, call->req.client_key, 0, api_now(api));
    if (r.allowed)
        return true;
    metrics_add(&api->metrics, M_RATE_LIMITED_AUTH, 1);
    struct wire_error e = {.code = SP_ERR_RATE_LIMITED,
                           .retry_after_s = r.retry_after_s,
                           .has_remaining = true,
                           .remaining = 0};
    snprintf(e.message, sizeof e.message, "too many register/token requests; retry later");
    api_reply_error_ex(api, call, &e);
    return false;
}

static enum api_result reply_store_error(struct api *api, struct api_call *call, sp_status st)
{
    api_reply_error(api, call, st, "%s", sp_strerror(st));
    return API_DONE;
}

/* ------------------------------------------------------------------ register */

struct register_ctx {
    struct api_pending p; /* first */
    struct wire_register reg;
    uint8_t address[SP_ADDRESS_LEN];
    uint8_t replay_key[32];
    uint64_t now, replay_expiry;
    uint32_t max_prekeys;
    bool created;
    int64_t account;
};

static void register_ctx_free(void *ctx)
{
    struct register_ctx *r = ctx;
    if (r == NULL)
        return;
    wire_register_free(&r->reg);
    free(r);
}

static sp_status register_run(struct store_conn *c, void *arg)
{
    struct register_ctx *r = arg;
    sp_status st;
    TRY(store_replay_put(c, r->replay_key, r->replay_expiry));
    TRY(store_account_register(c, &r->reg, r->address, r->now, r->max_prekeys, &r->created,
                               &r->account));
out:
    return st;
}

static enum api_result register_resume(struct api *api, struct api_call *call)
{
    struct register_ctx *r = call_state(call)->ctx;
    switch (r->p.status) {
    case SP_OK:
        break;
    case SP_ERR_REPLAY:
        metrics_auth_failure(&api->metrics, AUTH_FAIL_REPLAY);
        api_reply_error(api, call, SP_ERR_REPLAY, "nonce: this proof was already used");
        return API_DONE;
    case SP_ERR_CONFLICT:
        api_reply_error(api, call, SP_ERR_CONFLICT,
                        "identity_key, signed_prekey.id or prekeys: already stored with other "
                        "bytes");
        return API_DONE;
    case SP_ERR_PREKEY_LIMIT:
        api_reply_error(api, call, SP_ERR_PREKEY_LIMIT,
                        "prekeys: the account would hold more than %u one-time prekeys",
                        (unsigned)r->max_prekeys);
        return API_DONE;
    default:
        return reply_store_error(api, call, r->p.status);
    }
    struct wire_register_response resp = {.created = r->created};
    memcpy(resp.address, r->address, SP_ADDRESS_LEN);
    sp_status st = wire_encode_register_response(&call->resp.body, &resp);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    metrics_add(&api->metrics, M_PREKEYS_UPLOADED, r->reg.n_prekeys);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

HANDLER(handle_register)
{
    const struct sp_limits *lim = api->limits;
    struct wire_diag diag = {NULL, -1};
    struct register_ctx *r;
    sp_status st;

    if (!auth_rate_ok(api, call))
        return API_DONE;
    r = handler_ctx_new(cs, sizeof *r, register_ctx_free);
    if (r == NULL)
        return reply_store_error(api, call, SP_ERR_NOMEM);
    st = wire_decode_register(&r->reg, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    if (r->reg.n_prekeys > lim->max_prekeys_per_upload) {
        api_reply_error(api, call, SP_ERR_TOO_MANY, "prekeys: at most %u per request",
                        (unsigned)lim->max_prekeys_per_upload);
        return API_DONE;
    }
    r->now = api_now(api);
    if (auth_check_window(r->reg.timestamp, r->now, lim->proof_window_s) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_STALE);
        api_reply_error(api, call, SP_ERR_STALE_PROOF,
                        "timestamp: more than %u s away from the relay clock",
                        (unsigned)lim->proof_window_s);
        return API_DONE;
    }
    if (auth_verify_proof(r->reg.identity_key, SP_DOMAIN_REGISTER, r->reg.payload,
                          r->reg.payload_len, r->reg.signature) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_BAD_SIGNATURE);
        api_reply_error(api, call, SP_ERR_BAD_SIGNATURE,
                        "signature: does not verify with identity_key");
        return API_DONE;
    }
    if (auth_verify_signature(r->reg.identity_key, r->reg.signed_prekey.public_key, SP_PUBKEY_LEN,
                              r->reg.signed_prekey.signature, SP_SIGNATURE_LEN) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_BAD_SIGNATURE);
        api_reply_error(api, call, SP_ERR_BAD_SIGNATURE,
                        "signed_prekey.signature: does not verify with identity_key");
        return API_DONE;
    }
    st = sp_address_derive(r->address, r->reg.identity_key);
    if (st == SP_OK)
        st = auth_replay_key(r->replay_key, SP_DOMAIN_REGISTER, r->address, r->reg.nonce);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    r->replay_expiry = store_hour_ceil(r->reg.timestamp + lim->proof_window_s);
    r->max_prekeys = lim->max_prekeys_per_account;
    return api_submit(api, call, cs, &r->p, register_run, register_resume);
}

/* ------------------------------------------------------------------ token */

struct token_ctx {
    struct api_pending p; /* first */
    struct wire_token_request tr;
    uint8_t token[SP_TOKEN_LEN];
    uint8_t hash[32];
    uint8_t replay_key[32];
    int64_t account;
    uint64_t now, expires_at, replay_expiry;
};

static void token_ctx_free(void *ctx)
{
    struct token_ctx *t = ctx;
    if (t == NULL)
        return;
    wire_token_request_free(&t->tr);
    sp_free_secret(t, sizeof *t);
}

static sp_status token_run(struct store_conn *c, void *arg)
{
    struct token_ctx *t = arg;
    sp_status st;
    TRY(store_replay_put(c, t->replay_key, t->replay_expiry));
    TRY(store_token_put(c, t->hash, t->account, t->expires_at));
    TRY(store_account_touch(c, t->account, t->now));
out:
    return st;
}

static enum api_result token_resume(struct api *api, struct api_call *call)
{
    struct call_state *cs = call_state(call);
    struct token_ctx *t = cs->ctx;
    if (t->p.status == SP_ERR_REPLAY) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_REPLAY);
        api_reply_error(api, call, SP_ERR_REPLAY, "nonce: this proof was already used");
        return API_DONE;
    }
    if (t->p.status != SP_OK)
        return reply_store_error(api, call, t->p.status);
    struct wire_token_response resp = {.expires_at = t->expires_at};
    memcpy(resp.token, t->token, SP_TOKEN_LEN);
    cs->secret_body = true;
    sp_status st = wire_encode_token_response(&call->resp.body, &resp);
    sp_wipe(&resp, sizeof resp);
    sp_wipe(t->token, sizeof t->token);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

HANDLER(handle_token)
{
    const struct sp_limits *lim = api->limits;
    struct wire_diag diag = {NULL, -1};
    struct store_conn *c = NULL;
    struct store_account acct;
    struct token_ctx *t;
    sp_status st;

    if (!auth_rate_ok(api, call))
        return API_DONE;
    t = handler_ctx_new(cs, sizeof *t, token_ctx_free);
    if (t == NULL)
        return reply_store_error(api, call, SP_ERR_NOMEM);
    st = wire_decode_token_request(&t->tr, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    t->now = api_now(api);
    if (auth_check_window(t->tr.timestamp, t->now, lim->proof_window_s) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_STALE);
        api_reply_error(api, call, SP_ERR_STALE_PROOF,
                        "timestamp: more than %u s away from the relay clock",
                        (unsigned)lim->proof_window_s);
        return API_DONE;
    }
    st = store_conn_get(api->store, &c);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    st = store_account_by_address(c, t->tr.address, &acct);
    store_conn_put(api->store, c);
    /* An unknown address and a bad signature get the same answer, so the
     * endpoint cannot be used to learn which addresses exist. */
    if (st == SP_OK && auth_verify_proof(acct.identity_key, SP_DOMAIN_TOKEN, t->tr.payload,
                                         t->tr.payload_len, t->tr.signature) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_BAD_SIGNATURE);
        st = SP_ERR_UNAUTHENTICATED;
    } else if (st == SP_ERR_NOT_FOUND) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_UNKNOWN_ACCOUNT);
        st = SP_ERR_UNAUTHENTICATED;
    }
    if (st == SP_ERR_UNAUTHENTICATED) {
        api_reply_error(api, call, st, "unknown address or bad signature");
        return API_DONE;
    }
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    t->account = acct.id;
    st = auth_replay_key(t->replay_key, SP_DOMAIN_TOKEN, t->tr.address, t->tr.nonce);
    if (st == SP_OK)
        st = auth_token_new(t->token, t->hash);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    t->replay_expiry = store_hour_ceil(t->tr.timestamp + lim->proof_window_s);
    t->expires_at = store_hour_ceil(t->now + lim->token_ttl_s);
    return api_submit(api, call, cs, &t->p, token_run, token_resume);
}

/* ------------------------------------------------------------------ prekeys */

struct prekeys_ctx {
    struct api_pending p; /* first */
    struct wire_prekey_upload up;
    int64_t account;
    uint32_t max_total;
    uint64_t now;
    uint32_t count;
};

static sp_status prekeys_run(struct store_conn *c, void *arg)
{
    struct prekeys_ctx *k = arg;
    return store_prekeys_add(c, k->account, k->up.prekeys, k->up.n, k->max_total, k->now,
                             &k->count);
}

static enum api_result prekeys_resume(struct api *api, struct api_call *call)
{
    struct prekeys_ctx *k = call_state(call)->ctx;
    switch (k->p.status) {
    case SP_OK:
        break;
    case SP_ERR_CONFLICT:
        api_reply_error(api, call, SP_ERR_CONFLICT,
                        "prekeys: a key id is already stored with other bytes");
        return API_DONE;
    case SP_ERR_PREKEY_LIMIT:
        api_reply_error(api, call, SP_ERR_PREKEY_LIMIT,
                        "prekeys: the account would hold more than %u one-time prekeys",
                        (unsigned)k->max_total);
        return API_DONE;
    default:
        return reply_store_error(api, call, k->p.status);
    }
    sp_status st = wire_encode_prekey_count(&call->resp.body, k->count);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    metrics_add(&api->metrics, M_PREKEYS_UPLOADED, k->up.n);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

HANDLER(handle_prekeys_upload)
{
    struct wire_diag diag = {NULL, -1};
    struct prekeys_ctx *k = handler_ctx_new(cs, sizeof *k, NULL);
    if (k == NULL)
        return reply_store_error(api, call, SP_ERR_NOMEM);
    sp_status st = wire_decode_prekey_upload(&k->up, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    if (k->up.n > api->limits->max_prekeys_per_upload) {
        api_reply_error(api, call, SP_ERR_TOO_MANY, "prekeys: at most %u per request",
                        (unsigned)api->limits->max_prekeys_per_upload);
        return API_DONE;
    }
    k->account = cs->account;
    k->max_total = api->limits->max_prekeys_per_account;
    k->now = api_now(api);
    return api_submit(api, call, cs, &k->p, prekeys_run, prekeys_resume);
}

HANDLER(handle_prekeys_count)
{
    struct store_conn *c = NULL;
    uint32_t count = 0;
    sp_status st = store_conn_get(api->store, &c);
    if (st == SP_OK) {
        st = store_prekeys_count(c, cs->account, &count);
        store_conn_put(api->store, c);
    }
    if (st == SP_OK)
        st = wire_encode_prekey_count(&call->resp.body, count);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

/* ------------------------------------------------------------------ signed prekey */

struct spk_ctx {
    struct api_pending p; /* first */
    struct wire_signed_prekey spk;
    int64_t account;
    uint64_t now;
};

static sp_status spk_run(struct store_conn *c, void *arg)
{
    struct spk_ctx *s = arg;
    return store_signed_prekey_set(c, s->account, &s->spk, s->now);
}

static enum api_result spk_resume(struct api *api, struct api_call *call)
{
    struct spk_ctx *s = call_state(call)->ctx;
    if (s->p.status == SP_ERR_CONFLICT) {
        api_reply_error(api, call, SP_ERR_CONFLICT,
                        "id: this signed prekey id was used before with other bytes");
        return API_DONE;
    }
    if (s->p.status != SP_OK)
        return reply_store_error(api, call, s->p.status);
    buf_reset(&call->resp.body);
    api_reply_ok(call, 204, NULL);
    return API_DONE;
}

HANDLER(handle_signed_prekey)
{
    struct wire_diag diag = {NULL, -1};
    struct store_conn *c = NULL;
    struct store_account acct;
    struct spk_ctx *s = handler_ctx_new(cs, sizeof *s, NULL);
    if (s == NULL)
        return reply_store_error(api, call, SP_ERR_NOMEM);
    sp_status st = wire_decode_signed_prekey(&s->spk, &diag, call->req.body, call->req.body_len);
    if (st != SP_OK) {
        api_reply_decode_error(api, call, st, &diag);
        return API_DONE;
    }
    st = store_conn_get(api->store, &c);
    if (st == SP_OK) {
        st = store_account_by_id(c, cs->account, &acct);
        store_conn_put(api->store, c);
    }
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    if (auth_verify_signature(acct.identity_key, s->spk.public_key, SP_PUBKEY_LEN, s->spk.signature,
                              SP_SIGNATURE_LEN) != SP_OK) {
        metrics_auth_failure(&api->metrics, AUTH_FAIL_BAD_SIGNATURE);
        api_reply_error(api, call, SP_ERR_BAD_SIGNATURE,
                        "signature: does not verify with the account's identity key");
        return API_DONE;
    }
    s->account = cs->account;
    s->now = api_now(api);
    return api_submit(api, call, cs, &s->p, spk_run, spk_resume);
}

/* ------------------------------------------------------------------ bundle */

struct bundle_ctx {
    struct api_pending p; /* first */
    uint8_t target[SP_ADDRESS_LEN];
    struct wire_bundle bundle;
};

/* Taking a one-time prekey deletes it, so the bundle is a write. */
static sp_status bundle_run(struct store_conn *c, void *arg)
{
    struct bundle_ctx *b = arg;
    struct store_account acct;
    sp_status st;
    TRY(store_account_by_address(c, b->target, &acct));
    TRY(store_bundle_take(c, acct.id, &b->bundle));
out:
    return st;
}

static enum api_result bundle_resume(struct api *api, struct api_call *call)
{
    struct bundle_ctx *b = call_state(call)->ctx;
    if (b->p.status == SP_ERR_NOT_FOUND) {
        api_reply_error(api, call, SP_ERR_NOT_FOUND, "address: no such account");
        return API_DONE;
    }
    if (b->p.status != SP_OK)
        return reply_store_error(api, call, b->p.status);
    sp_status st = wire_encode_bundle(&call->resp.body, &b->bundle);
    if (st != SP_OK)
        return reply_store_error(api, call, st);
    metrics_add(&api->metrics,
                b->bundle.has_prekey ? M_BUNDLES_WITH_PREKEY : M_BUNDLES_WITHOUT_PREKEY, 1);
    api_reply_ok(call, 200, API_CT_PROTOBUF);
    return API_DONE;
}

/* The rate-limit key of a target: its address folded to 64 bits. Keying on
 * the address, not the account id, limits probing of unknown addresses too
 * and costs no database read. */
static uint64_t target_key(const uint8_t address[static SP_ADDRESS_LEN])
{
    uint64_t k = 0, part;
    for (size_t i = 0; i + 8 <= SP_ADDRESS_LEN; i += 8) {
        memcpy(&part, address + i, 8);
        k = k * 0x100000001b3ull ^ part;
    }
    uint32_t tail;
    memcpy(&tail, address + 16, 4);
    return k * 0x100000001b3ull ^ tail;
}

HANDLER(handle_bundle)
{
    const struct sp_limits *lim = api->limits;
    struct bundle_ctx *b = handler_ctx_new(cs, sizeof *b, NULL);
    if (b == NULL)
        return reply_store_error(api, call, SP_ERR_NOMEM);
    const char *text = cs->param;
    if (text == NULL || strlen(text) != SP_ADDRESS_TEXT_LEN ||
        sp_address_from_text(b->target, text, SP_ADDRESS_TEXT_LEN) != SP_OK) {
        api_reply_error(api, call, SP_ERR_INVALID_FIELD, "address: expected %d base32 characters",
                        SP_ADDRESS_TEXT_LEN);
        return API_DONE;
    }
    struct ratelimit_result rl = ratelimit_take(api->bundle_limit, (uint64_t)cs->account,
                                                target_key(b->target), api_now(api));
    if (!rl.allowed) {
        metrics_add(&api->metrics, M_RATE_LIMITED_BUNDLE, 1);
        struct wire_error e = {.code = SP_ERR_RATE_LIMITED,
                               .retry_after_s = rl.retry_after_s,
                               .has_remaining = true,
                               .remaining = 0};
        snprintf(e.message, sizeof e.message, "bundle: at most %u fetches of one target per %u s",
                 (unsigned)lim->bundle_fetches_per_target, (unsigned)lim->bundle_fetch_window_s);
        api_reply_error_ex(api, call, &e);
        return API_DONE;
    }
    return api_submit(api, call, cs, &b->p, bundle_run, bundle_resume);
}
