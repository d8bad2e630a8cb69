/*
 * relay.c: typed relay calls and the bearer token cache (see relay.h).
 */
#include "client/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/crypto.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/secmem.h"

#define RELAY_TOKEN_MARGIN_S 60

struct relay {
    struct transport *t;
    struct session *s;
    const struct sp_clock *clock;
    char token[SP_TOKEN_TEXT_LEN + 1]; /* "" when none */
    uint64_t token_expires;
    uint32_t retry_after;
    bool has_err_index; /* Error.index of the last failed call */
    uint32_t err_index;
    struct buf resp;
};

sp_status relay_new(struct relay **out, struct transport *t, struct session *s,
                    const struct sp_clock *clock)
{
    struct relay *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (r == NULL)
        return SP_ERR_NOMEM;
    r->t = t;
    r->s = s;
    r->clock = clock != NULL ? clock : sp_clock_system();
    buf_init(&r->resp, SP_HARD_MAX_BODY_BYTES);
    *out = r;
    return SP_OK;
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    sp_wipe(r->token, sizeof(r->token));
    buf_free(&r->resp);
    free(r);
}

uint32_t relay_retry_after(const struct relay *r)
{
    return r->retry_after;
}

bool relay_error_index(const struct relay *r, uint32_t *index)
{
    if (r->has_err_index)
        *index = r->err_index;
    return r->has_err_index;
}

static sp_status do_request(struct relay *r, const char *method, const char *path,
                            const char *bearer, const uint8_t *body, size_t len, long extra_s)
{
    struct transport_result res;
    sp_status st = transport_request(r->t, method, path, bearer, body, len, extra_s, &r->resp, &res);
    r->retry_after = st == SP_OK ? 0 : res.retry_after_s;
    r->has_err_index = false;
    /* A relay Error (the transport mapped its code) may name the item. */
    struct wire_error we;
    if (st != SP_OK && res.http_status >= 400 &&
        wire_decode_error(&we, r->resp.data, r->resp.len) == SP_OK && we.has_index) {
        r->has_err_index = true;
        r->err_index = we.index;
    }
    return st;
}

/* Sign DOMAIN || 0x00 || payload and wrap it in a SignedProof. */
static sp_status signed_proof(struct relay *r, struct buf *out, const char *domain,
                              const struct buf *payload)
{
    sp_status st = SP_OK;
    struct buf msg;
    uint8_t sig[SP_SIGNATURE_LEN];
    buf_init(&msg, SP_HARD_MAX_BODY_BYTES);
    TRY(sp_proof_message(&msg, domain, payload->data, payload->len));
    TRY(session_sign(r->s, sig, msg.data, msg.len));
    TRY(wire_encode_signed_proof(out, payload->data, payload->len, sig));
out:
    buf_free(&msg);
    return st;
}

static sp_status mint_token(struct relay *r)
{
    sp_status st = SP_OK;
    struct wire_token_request tr;
    struct wire_token_response resp;
    struct buf payload, body;
    char text[SP_ADDRESS_TEXT_LEN + 1];

    memset(&tr, 0, sizeof(tr));
    memset(&resp, 0, sizeof(resp));
    buf_init(&payload, 4096);
    buf_init(&body, 4096);
    TRY(session_my_address(r->s, text, tr.address));
    tr.timestamp = sp_clock_now(r->clock);
    TRY(sp_random(tr.nonce, sizeof(tr.nonce)));
    TRY(wire_encode_token_payload(&payload, &tr));
    TRY(signed_proof(r, &body, SP_DOMAIN_TOKEN, &payload));
    TRY(do_request(r, "POST", "/v1/token", NULL, body.data, body.len, 0));
    TRY(wire_decode_token_response(&resp, r->resp.data, r->resp.len));
    TRY(base64url_encode(r->token, sizeof(r->token), resp.token, SP_TOKEN_LEN));
    r->token_expires = resp.expires_at;
out:
    sp_wipe(&resp, sizeof(resp));
    buf_free_secret(&r->resp);
    buf_free(&payload);
    buf_free(&body);
    return st;
}

/* An authenticated request: token minted if missing or about to expire, and
 * re-minted once if the relay no longer accepts it. */
static sp_status authed(struct relay *r, const char *method, const char *path,
                        const uint8_t *body, size_t len, long extra_s)
{
    sp_status st;
    uint64_t now = sp_clock_now(r->clock);
    if (r->token[0] == 0 || r->token_expires <= now + RELAY_TOKEN_MARGIN_S) {
        st = mint_token(r);
        if (st != SP_OK)
            return st;
    }
    st = do_request(r, method, path, r->token, body, len, extra_s);
    if (st == SP_ERR_UNAUTHENTICATED) {
        sp_wipe(r->token, sizeof(r->token));
        st = mint_token(r);
        if (st == SP_OK)
            st = do_request(r, method, path, r->token, body, len, extra_s);
    }
    return st;
}

sp_status relay_register(struct relay *r, const struct wire_signed_prekey *spk,
                         const struct wire_prekey *prekeys, size_t n)
{
    sp_status st = SP_OK;
    struct wire_register *reg = NULL;
    struct wire_register_response rr;
    struct buf payload, body;
    char text[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t mine[SP_ADDRESS_LEN];

    buf_init(&payload, SP_HARD_MAX_BODY_BYTES);
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    ENSURE(n <= SP_HARD_MAX_PREKEYS_PER_UPLOAD, SP_ERR_USAGE);
    reg = calloc(1, sizeof(*reg));
    ENSURE(reg != NULL, SP_ERR_NOMEM);
    TRY(session_my_identity(r->s, reg->identity_key, &reg->registration_id));
    TRY(session_my_address(r->s, text, mine));
    reg->device_id = SP_DEVICE_ID;
    reg->signed_prekey = *spk;
    reg->n_prekeys = n;
    if (n > 0)
        memcpy(reg->prekeys, prekeys, n * sizeof(*prekeys));
    reg->timestamp = sp_clock_now(r->clock);
    TRY(sp_random(reg->nonce, sizeof(reg->nonce)));
    TRY(wire_encode_register_payload(&payload, reg));
    TRY(signed_proof(r, &body, SP_DOMAIN_REGISTER, &payload));
    TRY(do_request(r, "POST", "/v1/register", NULL, body.data, body.len, 0));
    TRY(wire_decode_register_response(&rr, r->resp.data, r->resp.len));
    /* The relay derives the address itself; it must be the one we derive. */
    ENSURE(sp_ct_equal(rr.address, mine, SP_ADDRESS_LEN), SP_ERR_PROTOCOL);
out:
    free(reg);
    buf_free(&payload);
    buf_free(&body);
    return st;
}

sp_status relay_prekeys_upload(struct relay *r, const struct wire_prekey *prekeys, size_t n,
                               uint32_t *count)
{
    sp_status st = SP_OK;
    struct wire_prekey_upload *up = NULL;
    struct buf body;
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    ENSURE(n >= 1 && n <= SP_HARD_MAX_PREKEYS_PER_UPLOAD, SP_ERR_USAGE);
    up = calloc(1, sizeof(*up));
    ENSURE(up != NULL, SP_ERR_NOMEM);
    up->n = n;
    memcpy(up->prekeys, prekeys, n * sizeof(*prekeys));
    TRY(wire_encode_prekey_upload(&body, up));
    TRY(authed(r, "PUT", "/v1/prekeys", body.data, body.len, 0));
    uint32_t c = 0;
    TRY(wire_decode_prekey_count(&c, r->resp.data, r->resp.len));
    if (count != NULL)
        *count = c;
out:
    free(up);
    buf_free(&body);
    return st;
}

sp_status relay_prekey_count(struct relay *r, uint32_t *count)
{
    sp_status st = authed(r, "GET", "/v1/prekeys/count", NULL, 0, 0);
    if (st == SP_OK)
        st = wire_decode_prekey_count(count, r->resp.data, r->resp.len);
    return st;
}

sp_status relay_signed_prekey(struct relay *r, const struct wire_signed_prekey *spk)
{
    sp_status st = SP_OK;
    struct buf body;
    buf_init(&body, 4096);
    TRY(wire_encode_signed_prekey(&body, spk));
    TRY(authed(r, "PUT", "/v1/signed-prekey", body.data, body.len, 0));
out:
    buf_free(&body);
    return st;
}

sp_status relay_bundle(struct relay *r, const char *peer, struct wire_bundle *out)
{
    char path[64], text[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t raw[SP_ADDRESS_LEN];
    if (peer == NULL || strlen(peer) != SP_ADDRESS_TEXT_LEN ||
        sp_address_from_text(raw, peer, SP_ADDRESS_TEXT_LEN) != SP_OK)
        return SP_ERR_USAGE;
    sp_address_to_text(text, raw);
    snprintf(path, sizeof(path), "/v1/bundle/%s", text);
    sp_status st = authed(r, "GET", path, NULL, 0, 0);
    if (st == SP_OK)
        st = wire_decode_bundle(out, NULL, r->resp.data, r->resp.len);
    return st;
}

sp_status relay_send(struct relay *r, const struct wire_out_envelope *env, size_t n,
                     struct wire_send_response *out)
{
    sp_status st = SP_OK;
    struct buf body;
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    TRY(wire_encode_send(&body, env, n));
    TRY(authed(r, "POST", "/v1/messages", body.data, body.len, 0));
    TRY(wire_decode_send_response(out, r->resp.data, r->resp.len));
out:
    buf_free(&body);
    return st;
}

sp_status relay_fetch(struct relay *r, uint32_t limit, uint64_t after, uint32_t wait_s,
                      struct wire_fetch *out)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/messages?limit=%u&after=%llu&wait=%u", limit,
             (unsigned long long)after, wait_s);
    sp_status st = authed(r, "GET", path, NULL, 0, (long)wait_s);
    if (st == SP_OK)
        st = wire_decode_fetch(out, NULL, r->resp.data, r->resp.len);
    return st;
}

sp_status relay_ack(struct relay *r, const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n,
                    uint32_t *deleted)
{
    sp_status st = SP_OK;
    struct buf body;
    uint32_t d = 0;
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    TRY(wire_encode_ack(&body, ids, n));
    TRY(authed(r, "POST", "/v1/messages/ack", body.data, body.len, 0));
    TRY(wire_decode_ack_response(&d, r->resp.data, r->resp.len));
    if (deleted != NULL)
        *deleted = d;
out:
    buf_free(&body);
    return st;
}

sp_status relay_limits(struct relay *r, struct sp_limits *out)
{
    sp_status st = do_request(r, "GET", "/v1/limits", NULL, NULL, 0, 0);
    if (st == SP_OK)
        st = wire_decode_limits(out, r->resp.data, r->resp.len);
    return st;
}
