/*
 * test_api.c: the relay API end to end below HTTP: real struct api_call
 * objects through api_handle(), a real SQLite store with all migrations, a
 * fake clock, real libsignal identities. Every endpoint's success path and
 * its bad inputs (right HTTP status + Error.code, and the database
 * byte-for-byte unchanged afterwards).
 */
#include "api_fixture.h"

#include <unistd.h>

/* ------------------------------------------------------------- router, misc */

START_TEST(test_health_ready_limits_metrics)
{
    struct fx f;
    struct tcall t;
    fx_setup(&f, "api-misc");

    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/health", NULL, NULL), 200);
    ck_assert_uint_eq(t.call.resp.body.len, 3);
    ck_assert(memcmp(t.call.resp.body.data, "ok\n", 3) == 0);
    ck_assert_ptr_nonnull(strstr(t.call.resp.content_type, "text/plain"));
    tcall_release(&f, &t);

    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/ready", NULL, NULL), 200);
    ck_assert(memcmp(t.call.resp.body.data, "ready\n", 6) == 0);
    tcall_release(&f, &t);

    f.cfg.limits.max_wait_s = 7; /* read-only for the API, but it must echo what it uses */
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/limits", NULL, NULL), 200);
    struct sp_limits got;
    ck_assert_int_eq(wire_decode_limits(&got, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert_uint_eq(got.max_wait_s, 7);
    ck_assert_uint_eq(got.max_body_bytes, f.cfg.limits.max_body_bytes);
    ck_assert_uint_eq(got.bundle_fetches_per_target, f.cfg.limits.bundle_fetches_per_target);
    tcall_release(&f, &t);

    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/metrics", NULL, NULL), 200);
    ck_assert_ptr_nonnull(strstr(t.call.resp.content_type, "version=0.0.4"));
    tcall_release(&f, &t);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_unknown_path_and_method)
{
    struct fx f;
    struct tcall t;
    fx_setup(&f, "api-route");
    const char *missing[] = {"/",
                             "/v1",
                             "/v1/health/",
                             "/v2/health",
                             "/v1/bundle/",
                             "/v1/bundle/a/b",
                             "/v1/messagesx",
                             "/metrics/x"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        fx_expect_error(&f, API_GET, missing[i], NULL, NULL, 404, SP_ERR_NOT_FOUND);

    fx_do(&f, &t, API_POST, "/v1/health", NULL, NULL);
    tcall_error(&t, 405, SP_ERR_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(t.call.resp.allow, "GET");
    tcall_release(&f, &t);

    fx_do(&f, &t, API_DELETE, "/v1/messages", NULL, NULL);
    tcall_error(&t, 405, SP_ERR_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(t.call.resp.allow, "POST, GET");
    tcall_release(&f, &t);

    fx_do(&f, &t, API_GET, "/v1/register", NULL, NULL);
    tcall_error(&t, 405, SP_ERR_METHOD_NOT_ALLOWED);
    ck_assert_str_eq(t.call.resp.allow, "POST");
    tcall_release(&f, &t);

    fx_do(&f, &t, API_HEAD, "/v1/bundle/abc", NULL, NULL);
    tcall_error(&t, 405, SP_ERR_METHOD_NOT_ALLOWED);
    tcall_release(&f, &t);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_content_type_and_body_size)
{
    struct fx f;
    struct ident a;
    struct wire_register reg;
    struct buf body;
    struct tcall t;
    fx_setup(&f, "api-ct");
    ident_new(&f, &a);
    fx_register_struct(&f, &a, 2, FX_T0, &reg);
    fx_register_body(&f, &a, &reg, &body);
    char *snap = fx_snapshot(&f);

    const char *bad[] = {NULL, "text/plain", "application/json", "application/x-protobufx",
                         "application/protobuf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tcall_init(&t, API_POST, "/v1/register", NULL);
        tcall_body(&t, &body);
        t.call.req.content_type = bad[i];
        tcall_run(&f, &t);
        tcall_error(&t, 415, SP_ERR_UNSUPPORTED_MEDIA);
        tcall_release(&f, &t);
    }
    tcall_init(&t, API_POST, "/v1/register", NULL);
    tcall_body(&t, &body);
    t.call.req.body_too_large = true;
    tcall_run(&f, &t);
    tcall_error(&t, 413, SP_ERR_TOO_LARGE);
    tcall_release(&f, &t);
    fx_assert_unchanged(&f, snap);

    /* Parameters and case are fine. */
    tcall_init(&t, API_POST, "/v1/register", NULL);
    tcall_body(&t, &body);
    t.call.req.content_type = "Application/X-Protobuf; charset=binary";
    ck_assert_uint_eq(tcall_run(&f, &t), 200);
    tcall_release(&f, &t);
    buf_free(&body);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- register */

START_TEST(test_register_success_and_idempotent)
{
    struct fx f;
    struct ident a;
    struct wire_register reg;
    struct buf body;
    struct tcall t;
    struct wire_register_response rr;
    fx_setup(&f, "api-reg");
    ident_new(&f, &a);

    fx_register_struct(&f, &a, 5, FX_T0 - 200, &reg);
    fx_register_body(&f, &a, &reg, &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/register", NULL, &body), 200);
    ck_assert_int_eq(
        wire_decode_register_response(&rr, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert(rr.created);
    ck_assert(memcmp(rr.address, a.address, SP_ADDRESS_LEN) == 0);
    tcall_release(&f, &t);
    buf_free(&body);

    /* Same identity again with a fresh proof and more prekeys: not created. */
    fx_register_struct(&f, &a, 3, FX_T0 + 250, &reg);
    fx_register_body(&f, &a, &reg, &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/register", NULL, &body), 200);
    ck_assert_int_eq(
        wire_decode_register_response(&rr, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert(!rr.created);
    tcall_release(&f, &t);
    buf_free(&body);

    /* Token, then the prekey count shows all 8. */
    fx_token_body(&f, &a, FX_T0, &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/token", NULL, &body), 200);
    struct wire_token_response tr;
    ck_assert_int_eq(wire_decode_token_response(&tr, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(tr.expires_at, store_hour_ceil(FX_T0 + f.cfg.limits.token_ttl_s));
    char bearer[64] = "Bearer ";
    ck_assert_int_eq(base64url_encode(bearer + 7, sizeof bearer - 7, tr.token, 32), SP_OK);
    tcall_release(&f, &t);
    buf_free(&body);

    uint32_t count = 0;
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/prekeys/count", bearer, NULL), 200);
    ck_assert_int_eq(wire_decode_prekey_count(&count, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(count, 8);
    tcall_release(&f, &t);
    fx_teardown(&f);
}
END_TEST

/* Patch the RegisterPayload's leading `version` field (08 01) and re-sign. */
static void register_body_version(struct fx *f, struct ident *id, const struct wire_register *reg,
                                  uint8_t version, struct buf *body)
{
    struct buf payload;
    uint8_t sig[64];
    buf_init(&payload, 1u << 20);
    ck_assert_int_eq(wire_encode_register_payload(&payload, reg), SP_OK);
    ck_assert_uint_eq(payload.data[0], 0x08);
    ck_assert_uint_eq(payload.data[1], 0x01);
    payload.data[1] = version;
    fx_sign_proof(f, id, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(body, &payload, sig);
    buf_free(&payload);
}

/* S + L: a second encoding of a valid signature (sign bit kept). */
static void malleate(uint8_t sig[static 64])
{
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    uint8_t sign = sig[63] & 0x80;
    unsigned carry = 0;
    sig[63] &= 0x7f;
    for (int i = 0; i < 32; i++) {
        unsigned v = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    ck_assert_uint_eq(carry, 0);
    ck_assert_uint_eq(sig[63] & 0xe0, 0); /* still < 2^253: libsignal accepts it */
    sig[63] |= sign;
}

START_TEST(test_register_bad_input_changes_nothing)
{
    struct fx f;
    struct ident a, other;
    struct wire_register reg;
    struct buf body, payload;
    uint8_t sig[64];
    fx_init(&f, "api-regbad");
    f.cfg.limits.max_prekeys_per_upload = 5;
    fx_start(&f);
    ident_new(&f, &a);
    ident_new(&f, &other);
    char *snap = fx_snapshot(&f);

    /* truncated / garbage protobuf */
    fx_register_struct(&f, &a, 2, FX_T0, &reg);
    fx_register_body(&f, &a, &reg, &body);
    for (size_t cut = 1; cut < body.len; cut += 7) {
        struct buf tr = {.data = body.data, .len = body.len - cut, .cap = body.cap};
        struct tcall t;
        fx_do(&f, &t, API_POST, "/v1/register", NULL, &tr);
        ck_assert_uint_eq(t.call.resp.http_status, 400);
        tcall_release(&f, &t);
    }
    buf_free(&body);
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    struct buf jb = {.data = junk, .len = sizeof junk, .cap = sizeof junk};
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &jb, 400, SP_ERR_MALFORMED);
    struct buf empty = {0};
    struct tcall t0;
    fx_do(&f, &t0, API_POST, "/v1/register", NULL, &empty);
    ck_assert_uint_eq(t0.call.resp.http_status, 400); /* MALFORMED or INVALID_FIELD: wire's call */
    struct wire_error e;
    ck_assert_int_eq(wire_decode_error(&e, t0.call.resp.body.data, t0.call.resp.body.len), SP_OK);
    ck_assert_ptr_nonnull(strstr(e.message, "payload"));
    tcall_release(&f, &t0);

    /* wrong key length: a prekey with a 32-byte key cannot be encoded by our
     * encoder, so take a valid payload and truncate one prekey's key bytes
     * in place: find "12 21 05" (field 2, len 33, type byte) of prekeys[1]. */
    fx_register_struct(&f, &a, 3, FX_T0, &reg);
    buf_init(&payload, 1u << 20);
    ck_assert_int_eq(wire_encode_register_payload(&payload, &reg), SP_OK);
    {
        /* locate prekeys[1].public_key */
        uint8_t needle[3] = {0x12, 0x21, 0x05};
        size_t hits = 0, at = 0;
        for (size_t i = 0; i + 3 + 33 <= payload.len; i++) {
            if (memcmp(payload.data + i, needle, 3) == 0 &&
                memcmp(payload.data + i + 3, reg.prekeys[1].public_key + 1, 8) == 0) {
                at = i;
                hits++;
            }
        }
        ck_assert_uint_eq(hits, 1);
        /* shrink the key to 32 bytes: length 0x20, drop one byte, fix the
         * enclosing PreKey length (the byte before its id field) */
        payload.data[at + 1] = 0x20;
        memmove(payload.data + at + 2 + 32, payload.data + at + 2 + 33, payload.len - at - 35);
        payload.len--;
        /* the PreKey submessage header is "32 <len>" just before "08 <id>" */
        ck_assert_uint_eq(payload.data[at - 4], 0x32);
        payload.data[at - 3]--;
    }
    fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    e = fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 400, SP_ERR_INVALID_FIELD);
    ck_assert_msg(strstr(e.message, "prekeys[1]") != NULL, "%s", e.message);
    ck_assert(e.has_index && e.index == 1);
    buf_free(&body);
    buf_free(&payload);

    /* unknown version */
    fx_register_struct(&f, &a, 1, FX_T0, &reg);
    register_body_version(&f, &a, &reg, 2, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 400, SP_ERR_UNSUPPORTED_VERSION);
    buf_free(&body);

    /* too many prekeys for the configured limit */
    fx_register_struct(&f, &a, 6, FX_T0, &reg);
    fx_register_body(&f, &a, &reg, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 413, SP_ERR_TOO_MANY);
    buf_free(&body);

    /* stale both ways (the window is inclusive) */
    fx_register_struct(&f, &a, 1, FX_T0 - 301, &reg);
    fx_register_body(&f, &a, &reg, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_STALE_PROOF);
    buf_free(&body);
    fx_register_struct(&f, &a, 1, FX_T0 + 301, &reg);
    fx_register_body(&f, &a, &reg, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_STALE_PROOF);
    buf_free(&body);

    /* proof signed by another key */
    fx_register_struct(&f, &a, 1, FX_T0, &reg);
    buf_init(&payload, 1u << 20);
    ck_assert_int_eq(wire_encode_register_payload(&payload, &reg), SP_OK);
    fx_sign_proof(&f, &other, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    /* signed for the token domain */
    fx_sign_proof(&f, &a, SP_DOMAIN_TOKEN, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    /* one flipped bit in the signature, in R and in S */
    for (int pos = 0; pos < 64; pos += 40) {
        fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig);
        sig[pos + 3] ^= 0x01;
        fx_proof_body(&body, &payload, sig);
        fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
        buf_free(&body);
    }
    /* S+L malleation of a valid signature: libsignal accepts it, we do not */
    fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig);
    malleate(sig);
    fx_proof_body(&body, &payload, sig);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    buf_free(&payload);

    /* signed prekey signed by another key */
    fx_register_struct(&f, &a, 1, FX_T0, &reg);
    fx_sign(&f, &other, reg.signed_prekey.signature, reg.signed_prekey.public_key, SP_PUBKEY_LEN);
    fx_register_body(&f, &a, &reg, &body);
    e = fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(e.message, "signed_prekey"));
    buf_free(&body);

    fx_assert_unchanged(&f, snap);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_register_replay)
{
    struct fx f;
    struct ident a;
    struct wire_register reg;
    struct buf body, payload;
    uint8_t sig[64];
    struct tcall t;
    fx_setup(&f, "api-replay");
    ident_new(&f, &a);

    fx_register_struct(&f, &a, 2, FX_T0, &reg);
    buf_init(&payload, 1u << 20);
    ck_assert_int_eq(wire_encode_register_payload(&payload, &reg), SP_OK);
    fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/register", NULL, &body), 200);
    tcall_release(&f, &t);
    char *snap = fx_snapshot(&f);

    /* the same bytes again */
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_REPLAY);
    buf_free(&body);
    /* the same proof with a different, perfectly valid signature (signing is
     * randomised): the replay key is the nonce, not the signature */
    uint8_t sig2[64];
    fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig2);
    ck_assert(memcmp(sig, sig2, 64) != 0);
    fx_proof_body(&body, &payload, sig2);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_REPLAY);
    buf_free(&body);
    /* the S+L form of the used signature: rejected (never a fresh key) */
    memcpy(sig2, sig, 64);
    malleate(sig2);
    fx_proof_body(&body, &payload, sig2);
    tcall_init(&t, API_POST, "/v1/register", NULL);
    tcall_body(&t, &body);
    tcall_run(&f, &t);
    ck_assert_uint_eq(t.call.resp.http_status, 401);
    tcall_release(&f, &t);
    buf_free(&body);
    buf_free(&payload);
    fx_assert_unchanged(&f, snap);

    /* past the window the replay record may go, and the proof is stale anyway */
    fx_advance(&f, 301);
    fx_register_struct(&f, &a, 0, FX_T0, &reg);
    fx_register_body(&f, &a, &reg, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_STALE_PROOF);
    buf_free(&body);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- token, bearer */

START_TEST(test_token_and_bearer)
{
    struct fx f;
    struct ident a, stranger;
    struct buf body, payload;
    struct tcall t;
    uint8_t sig[64];
    fx_setup(&f, "api-token");
    ident_new(&f, &a);
    ident_new(&f, &stranger);
    fx_register(&f, &a, 1);
    char *snap = fx_snapshot(&f);

    /* unknown address and bad signature look the same */
    fx_token_body(&f, &stranger, FX_T0, &body);
    struct wire_error e1 =
        fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    buf_free(&body);
    struct wire_token_request tr = {.timestamp = FX_T0};
    memcpy(tr.address, a.address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(tr.nonce, SP_NONCE_LEN), SP_OK);
    buf_init(&payload, 4096);
    ck_assert_int_eq(wire_encode_token_payload(&payload, &tr), SP_OK);
    fx_sign_proof(&f, &stranger, SP_DOMAIN_TOKEN, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    struct wire_error e2 =
        fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    ck_assert_str_eq(e1.message, e2.message);
    buf_free(&body);
    /* register-domain signature over a token payload */
    fx_sign_proof(&f, &a, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    buf_free(&body);
    /* stale */
    fx_token_body(&f, &a, FX_T0 - 1000, &body);
    fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_STALE_PROOF);
    buf_free(&body);
    fx_assert_unchanged(&f, snap);

    /* replay of a good one */
    fx_sign_proof(&f, &a, SP_DOMAIN_TOKEN, &payload, sig);
    fx_proof_body(&body, &payload, sig);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/token", NULL, &body), 200);
    tcall_release(&f, &t);
    fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_REPLAY);
    buf_free(&body);
    buf_free(&payload);

    /* malformed bearer headers */
    char longer[80], shorter[80], basic[80], lower[80], badchar[80], trailing[80];
    snprintf(longer, sizeof longer, "%sA", a.bearer);
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(a.bearer) - 1, a.bearer);
    snprintf(basic, sizeof basic, "Basic %s", a.bearer + 7);
    snprintf(lower, sizeof lower, "bearer %s", a.bearer + 7);
    snprintf(badchar, sizeof badchar, "%s", a.bearer);
    badchar[10] = '+';
    snprintf(trailing, sizeof trailing, "%s", a.bearer);
    /* last char of 43: 2 spare bits must be zero; 'B' sets one when the token's last bits are 0 */
    trailing[strlen(trailing) - 1] = trailing[strlen(trailing) - 1] == 'B' ? 'C' : 'B';
    const char *bad[] = {NULL,      "",      "Bearer",
                         "Bearer ", longer,  shorter,
                         basic,     badchar, "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        fx_expect_error(&f, API_GET, "/v1/prekeys/count", bad[i], NULL, 401,
                        SP_ERR_UNAUTHENTICATED);
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/prekeys/count", lower, NULL), 200);
    tcall_release(&f, &t);
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/prekeys/count", a.bearer, NULL), 200);
    tcall_release(&f, &t);

    /* expiry: valid until hour_ceil(T0 + ttl), not a second longer */
    uint64_t expires = store_hour_ceil(FX_T0 + f.cfg.limits.token_ttl_s);
    atomic_store(&f.now, expires - 1);
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/prekeys/count", a.bearer, NULL), 200);
    tcall_release(&f, &t);
    atomic_store(&f.now, expires);
    fx_expect_error(&f, API_GET, "/v1/prekeys/count", a.bearer, NULL, 401, SP_ERR_UNAUTHENTICATED);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_auth_rate_limit)
{
    struct fx f;
    struct ident a;
    struct buf body;
    struct tcall t;
    fx_init(&f, "api-authrl");
    f.cfg.auth_rate_per_minute = 3;
    fx_start(&f);
    ident_new(&f, &a);
    fx_register(&f, &a, 0); /* 2 requests from client_key 42 */
    fx_token_body(&f, &a, FX_T0, &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/token", NULL, &body), 200);
    tcall_release(&f, &t);
    buf_free(&body);

    char *snap = fx_snapshot(&f);
    fx_token_body(&f, &a, FX_T0, &body);
    fx_do(&f, &t, API_POST, "/v1/token", NULL, &body);
    struct wire_error e = tcall_error(&t, 429, SP_ERR_RATE_LIMITED);
    ck_assert(e.has_remaining && e.remaining == 0);
    ck_assert_uint_ge(t.call.resp.retry_after_s, 1);
    ck_assert_uint_le(t.call.resp.retry_after_s, 20);
    ck_assert_uint_eq(e.retry_after_s, t.call.resp.retry_after_s);
    tcall_release(&f, &t);
    fx_assert_unchanged(&f, snap);

    /* another client is not affected; the same one is after the refill */
    tcall_init(&t, API_POST, "/v1/token", NULL);
    tcall_body(&t, &body);
    t.call.req.client_key = 7;
    ck_assert_uint_eq(tcall_run(&f, &t), 200);
    tcall_release(&f, &t);
    buf_free(&body);
    fx_advance(&f, 20);
    fx_token_body(&f, &a, atomic_load(&f.now), &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/token", NULL, &body), 200);
    tcall_release(&f, &t);
    buf_free(&body);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- prekeys */

static uint32_t prekey_count(struct fx *f, const struct ident *id)
{
    struct tcall t;
    uint32_t n = 0;
    ck_assert_uint_eq(fx_do(f, &t, API_GET, "/v1/prekeys/count", id->bearer, NULL), 200);
    ck_assert_int_eq(wire_decode_prekey_count(&n, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    tcall_release(f, &t);
    return n;
}

START_TEST(test_prekeys_upload)
{
    struct fx f;
    struct ident a;
    struct wire_prekey_upload up;
    struct buf body;
    struct tcall t;
    fx_init(&f, "api-prekeys");
    f.cfg.limits.max_prekeys_per_upload = 10;
    f.cfg.limits.max_prekeys_per_account = 15;
    fx_start(&f);
    ident_new(&f, &a);
    fx_register(&f, &a, 2);
    ck_assert_uint_eq(prekey_count(&f, &a), 2);

    memset(&up, 0, sizeof up);
    up.n = 10;
    for (size_t i = 0; i < up.n; i++)
        fx_prekey(&a, &up.prekeys[i]);
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
    ck_assert_uint_eq(fx_do(&f, &t, API_PUT, "/v1/prekeys", a.bearer, &body), 200);
    uint32_t n = 0;
    ck_assert_int_eq(wire_decode_prekey_count(&n, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(n, 12);
    tcall_release(&f, &t);
    /* the same upload again is a no-op */
    ck_assert_uint_eq(fx_do(&f, &t, API_PUT, "/v1/prekeys", a.bearer, &body), 200);
    tcall_release(&f, &t);
    ck_assert_uint_eq(prekey_count(&f, &a), 12);
    buf_free(&body);

    char *snap = fx_snapshot(&f);
    /* conflict: same id, other bytes */
    up.prekeys[3].public_key[5] ^= 1;
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &body, 409, SP_ERR_CONFLICT);
    buf_free(&body);
    /* account limit: 12 + 4 > 15 */
    up.n = 4;
    for (size_t i = 0; i < up.n; i++)
        fx_prekey(&a, &up.prekeys[i]);
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &body, 409, SP_ERR_PREKEY_LIMIT);
    buf_free(&body);
    /* per-upload limit */
    up.n = 11;
    for (size_t i = 0; i < up.n; i++)
        fx_prekey(&a, &up.prekeys[i]);
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &body, 413, SP_ERR_TOO_MANY);
    /* no token, truncated, empty */
    fx_expect_error(&f, API_PUT, "/v1/prekeys", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    body.len -= 3;
    fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &body, 400, SP_ERR_MALFORMED);
    buf_free(&body);
    struct buf empty = {0};
    fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &empty, 400, SP_ERR_INVALID_FIELD);
    /* duplicate id inside one upload */
    up.n = 2;
    fx_prekey(&a, &up.prekeys[0]);
    up.prekeys[1] = up.prekeys[0];
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
    struct wire_error e =
        fx_expect_error(&f, API_PUT, "/v1/prekeys", a.bearer, &body, 400, SP_ERR_INVALID_FIELD);
    ck_assert(e.has_index && e.index == 1);
    buf_free(&body);
    fx_assert_unchanged(&f, snap);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- signed prekey + bundle */

static unsigned get_bundle(struct fx *f, const struct ident *who, const struct ident *target,
                           struct wire_bundle *b)
{
    struct tcall t;
    char path[80];
    snprintf(path, sizeof path, "/v1/bundle/%s", target->text);
    unsigned http = fx_do(f, &t, API_GET, path, who->bearer, NULL);
    if (http == 200)
        ck_assert_int_eq(wire_decode_bundle(b, NULL, t.call.resp.body.data, t.call.resp.body.len),
                         SP_OK);
    tcall_release(f, &t);
    return http;
}

START_TEST(test_signed_prekey_and_bundle)
{
    struct fx f;
    struct ident a, b, other;
    struct wire_bundle bun;
    struct wire_signed_prekey spk;
    struct buf body;
    struct tcall t;
    fx_setup(&f, "api-bundle");
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &other);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 3);

    /* oldest first, exactly once, then none */
    for (uint32_t i = 1; i <= 3; i++) {
        ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
        ck_assert(bun.has_prekey);
        ck_assert_uint_eq(bun.prekey.id, i);
        ck_assert(memcmp(bun.identity_key, b.pub, SP_PUBKEY_LEN) == 0);
        ck_assert(sp_address_matches(b.address, bun.identity_key));
        ck_assert_uint_eq(bun.signed_prekey.id, 1);
    }
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    ck_assert(!bun.has_prekey);

    /* signed prekey rotation */
    fx_signed_prekey(&f, &b, &spk);
    buf_init(&body, 4096);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &spk), SP_OK);
    ck_assert_uint_eq(fx_do(&f, &t, API_PUT, "/v1/signed-prekey", b.bearer, &body), 204);
    ck_assert_uint_eq(t.call.resp.body.len, 0);
    tcall_release(&f, &t);
    buf_free(&body);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    ck_assert_uint_eq(bun.signed_prekey.id, spk.id);

    char *snap = fx_snapshot(&f);
    /* signature by another key; S+L malleated; same id other bytes */
    struct wire_signed_prekey bad;
    fx_signed_prekey(&f, &b, &bad);
    fx_sign(&f, &other, bad.signature, bad.public_key, SP_PUBKEY_LEN);
    buf_init(&body, 4096);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &bad), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/signed-prekey", b.bearer, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    fx_signed_prekey(&f, &b, &bad);
    malleate(bad.signature);
    buf_init(&body, 4096);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &bad), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/signed-prekey", b.bearer, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    bad = spk;
    bad.id = 1; /* used before by the first key */
    buf_init(&body, 4096);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &bad), SP_OK);
    fx_expect_error(&f, API_PUT, "/v1/signed-prekey", b.bearer, &body, 409, SP_ERR_CONFLICT);
    body.len -= 10;
    fx_expect_error(&f, API_PUT, "/v1/signed-prekey", b.bearer, &body, 400, SP_ERR_MALFORMED);
    buf_free(&body);

    /* bad and unknown addresses */
    fx_expect_error(&f, API_GET, "/v1/bundle/short", a.bearer, NULL, 400, SP_ERR_INVALID_FIELD);
    fx_expect_error(&f, API_GET, "/v1/bundle/0000000000000000000000000000000!", a.bearer, NULL, 400,
                    SP_ERR_INVALID_FIELD);
    char path[80];
    snprintf(path, sizeof path, "/v1/bundle/%s", other.text);
    fx_expect_error(&f, API_GET, path, a.bearer, NULL, 404, SP_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "/v1/bundle/%s", b.text);
    fx_expect_error(&f, API_GET, path, NULL, NULL, 401, SP_ERR_UNAUTHENTICATED);
    fx_assert_unchanged(&f, snap);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_bundle_rate_limit)
{
    struct fx f;
    struct ident a, b, c;
    struct wire_bundle bun;
    struct tcall t;
    char path[80];
    fx_init(&f, "api-bundlerl");
    f.cfg.limits.bundle_fetches_per_target = 3;
    f.cfg.limits.bundle_fetch_window_s = 300;
    fx_start(&f);
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &c);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 10);
    fx_register(&f, &c, 0);

    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    char *snap = fx_snapshot(&f);
    snprintf(path, sizeof path, "/v1/bundle/%s", b.text);
    fx_do(&f, &t, API_GET, path, a.bearer, NULL);
    struct wire_error e = tcall_error(&t, 429, SP_ERR_RATE_LIMITED);
    ck_assert(e.has_remaining && e.remaining == 0);
    ck_assert_uint_eq(t.call.resp.retry_after_s, 100); /* one request per 100 s */
    ck_assert_uint_eq(e.retry_after_s, 100);
    tcall_release(&f, &t);
    fx_assert_unchanged(&f, snap); /* no prekey was taken */

    /* other pairs are independent */
    ck_assert_uint_eq(get_bundle(&f, &c, &b, &bun), 200);
    ck_assert_uint_eq(get_bundle(&f, &a, &c, &bun), 200);
    /* refill */
    fx_advance(&f, 99);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 429);
    fx_advance(&f, 1);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 429);
    fx_teardown(&f);
}
END_TEST

struct bundle_thread {
    struct fx *f;
    struct ident *who, *target;
    uint32_t ids[40];
    size_t n_with, n_without;
};

static void *bundle_worker(void *arg)
{
    struct bundle_thread *bt = arg;
    for (int i = 0; i < 20; i++) {
        struct wire_bundle bun;
        ck_assert_uint_eq(get_bundle(bt->f, bt->who, bt->target, &bun), 200);
        if (bun.has_prekey)
            bt->ids[bt->n_with++] = bun.prekey.id;
        else
            bt->n_without++;
    }
    return NULL;
}

START_TEST(test_bundle_exactly_once_concurrent)
{
    struct fx f;
    enum { THREADS = 6, PREKEYS = 50 };
    struct ident target, who[THREADS];
    struct bundle_thread bt[THREADS];
    pthread_t th[THREADS];
    fx_init(&f, "api-bundlecc");
    f.cfg.limits.bundle_fetches_per_target = 100;
    fx_start(&f);
    ident_new(&f, &target);
    fx_register(&f, &target, PREKEYS);
    for (int i = 0; i < THREADS; i++) {
        ident_new(&f, &who[i]);
        fx_register(&f, &who[i], 0);
        bt[i] = (struct bundle_thread){.f = &f, .who = &who[i], .target = &target};
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, bundle_worker, &bt[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    bool seen[PREKEYS + 1] = {false};
    size_t with = 0, without = 0;
    for (int i = 0; i < THREADS; i++) {
        for (size_t k = 0; k < bt[i].n_with; k++) {
            uint32_t id = bt[i].ids[k];
            ck_assert(id >= 1 && id <= PREKEYS);
            ck_assert_msg(!seen[id], "prekey %u handed out twice", id);
            seen[id] = true;
        }
        with += bt[i].n_with;
        without += bt[i].n_without;
    }
    ck_assert_uint_eq(with, PREKEYS);
    ck_assert_uint_eq(without, THREADS * 20 - PREKEYS);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- send, fetch, ack */

static unsigned send_mail(struct fx *f, const struct ident *from, const struct fx_mail *m,
                          struct wire_send_response *r)
{
    struct buf body;
    struct tcall t;
    fx_mail_body(m, &body);
    unsigned http = fx_do(f, &t, API_POST, "/v1/messages", from->bearer, &body);
    if (http == 200)
        ck_assert_int_eq(wire_decode_send_response(r, t.call.resp.body.data, t.call.resp.body.len),
                         SP_OK);
    tcall_release(f, &t);
    buf_free(&body);
    return http;
}

static void fetch(struct fx *f, const struct ident *who, const char *query, struct wire_fetch *out)
{
    struct tcall t;
    char path[64];
    snprintf(path, sizeof path, "/v1/messages");
    tcall_init(&t, API_GET, path, who->bearer);
    char q[3][32] = {{0}};
    if (query != NULL) {
        /* "limit=2&after=5&wait=1" */
        char tmp[96];
        snprintf(tmp, sizeof tmp, "%s", query);
        for (char *save = NULL, *kv = strtok_r(tmp, "&", &save); kv != NULL;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            ck_assert_ptr_nonnull(eq);
            *eq = '\0';
            int slot = strcmp(kv, "limit") == 0 ? 0 : strcmp(kv, "after") == 0 ? 1 : 2;
            snprintf(q[slot], sizeof q[slot], "%s", eq + 1);
            if (slot == 0)
                t.call.req.q_limit = q[0];
            else if (slot == 1)
                t.call.req.q_after = q[1];
            else
                t.call.req.q_wait = q[2];
        }
    }
    ck_assert_uint_eq(tcall_run(f, &t), 200);
    ck_assert_int_eq(wire_decode_fetch(out, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    tcall_release(f, &t);
}

START_TEST(test_send_fetch_ack)
{
    struct fx f;
    struct ident a, b, c;
    struct fx_mail m = {0};
    struct wire_send_response r;
    struct wire_fetch page;
    struct tcall t;
    fx_setup(&f, "api-mail");
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &c);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    fx_register(&f, &c, 0);

    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &c, 512);
    fx_mail_add(&m, &b, 1024);
    fx_mail_add(&m, &b, 256);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200);
    ck_assert_uint_eq(r.stored, 4);
    ck_assert_uint_eq(r.duplicates, 0);
    ck_assert_uint_eq(fx_pending(&f, &b), 3);
    ck_assert_uint_eq(fx_pending(&f, &c), 1);

    /* idempotent resend */
    char *snap = fx_snapshot(&f);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200);
    ck_assert_uint_eq(r.stored, 0);
    ck_assert_uint_eq(r.duplicates, 4);
    fx_assert_unchanged(&f, snap);

    /* paging, oldest first */
    fetch(&f, &b, "limit=2", &page);
    ck_assert_uint_eq(page.n, 2);
    ck_assert(page.more);
    ck_assert(memcmp(page.envelopes[0].message_id, m.env[0].message_id, 16) == 0);
    ck_assert(memcmp(page.envelopes[1].message_id, m.env[2].message_id, 16) == 0);
    ck_assert_uint_eq(page.envelopes[1].content_len, m.env[2].content_len);
    ck_assert(memcmp(page.envelopes[1].content, m.content[2], m.env[2].content_len) == 0);
    ck_assert_uint_eq(page.envelopes[0].received_hour, store_hour(FX_T0));
    char q[64];
    snprintf(q, sizeof q, "limit=2&after=%llu", (unsigned long long)page.cursor);
    uint64_t cursor1 = page.cursor;
    wire_fetch_free(&page);
    fetch(&f, &b, q, &page);
    ck_assert_uint_eq(page.n, 1);
    ck_assert(!page.more);
    ck_assert(memcmp(page.envelopes[0].message_id, m.env[3].message_id, 16) == 0);
    ck_assert_uint_gt(page.cursor, cursor1);
    snprintf(q, sizeof q, "after=%llu", (unsigned long long)page.cursor);
    uint64_t cursor2 = page.cursor;
    wire_fetch_free(&page);
    fetch(&f, &b, q, &page);
    ck_assert_uint_eq(page.n, 0);
    ck_assert_uint_eq(page.cursor, cursor2);
    ck_assert(!page.more);
    wire_fetch_free(&page);

    /* ack two of b's + an unknown id + c's id (not b's: ignored) */
    uint8_t ids[4][SP_MESSAGE_ID_LEN];
    memcpy(ids[0], m.env[0].message_id, 16);
    memcpy(ids[1], m.env[2].message_id, 16);
    ck_assert_int_eq(sp_random(ids[2], 16), SP_OK);
    memcpy(ids[3], m.env[1].message_id, 16);
    struct buf body;
    buf_init(&body, 1u << 16);
    ck_assert_int_eq(wire_encode_ack(&body, (const uint8_t(*)[16])ids, 4), SP_OK);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/messages/ack", b.bearer, &body), 200);
    uint32_t deleted = 0;
    ck_assert_int_eq(
        wire_decode_ack_response(&deleted, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert_uint_eq(deleted, 2);
    tcall_release(&f, &t);
    ck_assert_uint_eq(fx_pending(&f, &b), 1);
    ck_assert_uint_eq(fx_pending(&f, &c), 1);
    /* acking again deletes nothing */
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/messages/ack", b.bearer, &body), 200);
    ck_assert_int_eq(
        wire_decode_ack_response(&deleted, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert_uint_eq(deleted, 0);
    tcall_release(&f, &t);
    buf_free(&body);

    fetch(&f, &b, NULL, &page);
    ck_assert_uint_eq(page.n, 1);
    wire_fetch_free(&page);
    fx_mail_free(&m);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_send_atomic_failures)
{
    struct fx f;
    struct ident a, b, c, nobody;
    struct fx_mail m = {0};
    struct wire_send_response r;
    struct buf body;
    fx_init(&f, "api-atomic");
    f.cfg.limits.mailbox_max_messages = 3;
    fx_start(&f);
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &c);
    ident_new(&f, &nobody);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    fx_register(&f, &c, 0);
    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 256);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200);
    fx_mail_free(&m);

    char *snap = fx_snapshot(&f);
    /* c ok, b ok (3rd), b full at index 2, c never reached */
    fx_mail_add(&m, &c, 256);
    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &c, 256);
    fx_mail_body(&m, &body);
    struct wire_error e =
        fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 507, SP_ERR_MAILBOX_FULL);
    ck_assert(e.has_index && e.index == 2);
    buf_free(&body);
    fx_mail_free(&m);
    ck_assert_uint_eq(fx_pending(&f, &b), 2);
    ck_assert_uint_eq(fx_pending(&f, &c), 0);

    /* unknown recipient at index 1 */
    fx_mail_add(&m, &c, 256);
    fx_mail_add(&m, &nobody, 256);
    fx_mail_body(&m, &body);
    e = fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 404, SP_ERR_NOT_FOUND);
    ck_assert(e.has_index && e.index == 1);
    buf_free(&body);
    fx_mail_free(&m);
    fx_assert_unchanged(&f, snap);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_send_bad_input)
{
    struct fx f;
    struct ident a, b;
    struct fx_mail m = {0};
    struct buf body;
    fx_init(&f, "api-sendbad");
    f.cfg.limits.max_envelopes_per_request = 3;
    f.cfg.limits.max_envelope_bytes = SP_SEAL_OVERHEAD + 512;
    fx_start(&f);
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    char *snap = fx_snapshot(&f);

    for (int i = 0; i < 4; i++)
        fx_mail_add(&m, &b, 256);
    fx_mail_body(&m, &body);
    fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 413, SP_ERR_TOO_MANY);
    buf_free(&body);
    fx_mail_free(&m);

    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 1024);
    fx_mail_body(&m, &body);
    struct wire_error e =
        fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 413, SP_ERR_TOO_LARGE);
    ck_assert(e.has_index && e.index == 1);
    ck_assert_ptr_nonnull(strstr(e.message, "envelopes[1].content"));
    buf_free(&body);
    fx_mail_free(&m);

    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 256);
    m.content[1][0] = 2; /* unknown seal version */
    fx_mail_body(&m, &body);
    e = fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 400,
                        SP_ERR_UNSUPPORTED_VERSION);
    ck_assert(e.has_index && e.index == 1);
    buf_free(&body);
    m.content[1][0] = 1;
    m.env[0].content_len--; /* not 49 + power of two */
    fx_mail_body(&m, &body);
    e = fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 400, SP_ERR_INVALID_FIELD);
    ck_assert(e.has_index && e.index == 0);
    body.len -= 5;
    fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &body, 400, SP_ERR_MALFORMED);
    fx_expect_error(&f, API_POST, "/v1/messages", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    buf_free(&body);
    fx_mail_free(&m);
    struct buf empty = {0};
    fx_expect_error(&f, API_POST, "/v1/messages", a.bearer, &empty, 400, SP_ERR_INVALID_FIELD);
    fx_assert_unchanged(&f, snap);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_fetch_bad_params)
{
    struct fx f;
    struct ident a;
    struct tcall t;
    fx_setup(&f, "api-fetchbad");
    ident_new(&f, &a);
    fx_register(&f, &a, 0);
    const char *bad_limit[] = {
        "", "0", "-1", "+1", "1x", " 1", "0x10", "101", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_limit / sizeof bad_limit[0]; i++) {
        tcall_init(&t, API_GET, "/v1/messages", a.bearer);
        t.call.req.q_limit = bad_limit[i];
        tcall_run(&f, &t);
        tcall_error(&t, 400, SP_ERR_INVALID_FIELD);
        tcall_release(&f, &t);
    }
    const char *bad_num[] = {"", "-5", "abc", "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad_num / sizeof bad_num[0]; i++) {
        tcall_init(&t, API_GET, "/v1/messages", a.bearer);
        t.call.req.q_after = bad_num[i];
        tcall_run(&f, &t);
        tcall_error(&t, 400, SP_ERR_INVALID_FIELD);
        tcall_release(&f, &t);
        tcall_init(&t, API_GET, "/v1/messages", a.bearer);
        t.call.req.q_wait = bad_num[i];
        tcall_run(&f, &t);
        tcall_error(&t, 400, SP_ERR_INVALID_FIELD);
        tcall_release(&f, &t);
    }
    tcall_init(&t, API_GET, "/v1/messages", a.bearer);
    t.call.req.q_wait = "4294967296"; /* > 2^32 - 1 */
    tcall_run(&f, &t);
    tcall_error(&t, 400, SP_ERR_INVALID_FIELD);
    tcall_release(&f, &t);
    tcall_init(&t, API_GET, "/v1/messages", a.bearer);
    t.call.req.q_after = "18446744073709551615";
    t.call.req.q_limit = "100";
    t.call.req.q_wait = "0";
    ck_assert_uint_eq(tcall_run(&f, &t), 200);
    tcall_release(&f, &t);
    fx_teardown(&f);
}
END_TEST

/* A long-poll that runs on its own thread of control: started, then the
 * test does other things, then waits for its wake. */
START_TEST(test_longpoll_wakes_on_mail)
{
    struct fx f;
    struct ident a, b;
    struct fx_mail m = {0};
    struct wire_send_response r;
    struct tcall t;
    fx_setup(&f, "api-lp");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);

    tcall_init(&t, API_GET, "/v1/messages", b.bearer);
    t.call.req.q_wait = "30";
    uint64_t t0 = sp_monotonic_ms();
    ck_assert_int_eq(api_handle(f.api, &t.call), API_PENDING);
    ck_assert(!tcall_wait(&t, 200)); /* nothing yet */

    fx_mail_add(&m, &b, 256);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200);
    /* the send's done() wakes the poll right after the commit: no timer involved */
    ck_assert(tcall_wait(&t, 1000));
    ck_assert_uint_lt(sp_monotonic_ms() - t0, 3000);
    ck_assert_int_eq(api_handle(f.api, &t.call), API_DONE);
    ck_assert_uint_eq(t.call.resp.http_status, 200);
    struct wire_fetch page;
    ck_assert_int_eq(wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(page.n, 1);
    ck_assert(memcmp(page.envelopes[0].message_id, m.env[0].message_id, 16) == 0);
    wire_fetch_free(&page);
    ck_assert(!tcall_wait(&t, 100)); /* exactly one wake */
    tcall_release(&f, &t);

    /* mail for someone else does not wake b */
    tcall_init(&t, API_GET, "/v1/messages", b.bearer);
    t.call.req.q_wait = "2";
    char after[32];
    snprintf(after, sizeof after, "%llu", (unsigned long long)UINT64_MAX / 2);
    t.call.req.q_after = after; /* b's mailbox counts as empty past this cursor */
    ck_assert_int_eq(api_handle(f.api, &t.call), API_PENDING);
    fx_mail_free(&m);
    fx_mail_add(&m, &a, 256);
    ck_assert_uint_eq(send_mail(&f, &b, &m, &r), 200);
    ck_assert(!tcall_wait(&t, 500));
    ck_assert(tcall_wait(&t, 5000)); /* the timeout */
    ck_assert_int_eq(api_handle(f.api, &t.call), API_DONE);
    ck_assert_int_eq(wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(page.n, 0);
    ck_assert_uint_eq(page.cursor, UINT64_MAX / 2);
    wire_fetch_free(&page);
    tcall_release(&f, &t);
    fx_mail_free(&m);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_longpoll_timeout_and_clamp)
{
    struct fx f;
    struct ident a;
    struct tcall t;
    fx_init(&f, "api-lpto");
    f.cfg.limits.max_wait_s = 1;
    fx_start(&f);
    ident_new(&f, &a);
    fx_register(&f, &a, 0);

    tcall_init(&t, API_GET, "/v1/messages", a.bearer);
    t.call.req.q_wait = "4000000000"; /* clamped to 1 s */
    uint64_t t0 = sp_monotonic_ms();
    ck_assert_uint_eq(tcall_run(&f, &t), 200);
    uint64_t took = sp_monotonic_ms() - t0;
    ck_assert_uint_ge(took, 900);
    ck_assert_uint_lt(took, 4000);
    struct wire_fetch page;
    ck_assert_int_eq(wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(page.n, 0);
    ck_assert_uint_eq(page.cursor, 0);
    ck_assert(!page.more);
    wire_fetch_free(&page);
    tcall_release(&f, &t);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_shutdown)
{
    struct fx f;
    struct ident a, b;
    struct tcall t, t2;
    struct fx_mail m = {0};
    struct buf body;
    fx_setup(&f, "api-shutdown");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);

    tcall_init(&t, API_GET, "/v1/messages", b.bearer);
    t.call.req.q_wait = "60";
    ck_assert_int_eq(api_handle(f.api, &t.call), API_PENDING);
    api_shutdown(f.api);
    ck_assert(tcall_wait(&t, 2000));
    ck_assert_int_eq(api_handle(f.api, &t.call), API_DONE);
    ck_assert_uint_eq(t.call.resp.http_status, 200);
    tcall_release(&f, &t);

    /* no new writes, no new long-polls; ready says so */
    fx_mail_add(&m, &b, 256);
    fx_mail_body(&m, &body);
    fx_do(&f, &t2, API_POST, "/v1/messages", a.bearer, &body);
    tcall_error(&t2, 503, SP_ERR_UNAVAILABLE);
    ck_assert_uint_ge(t2.call.resp.retry_after_s, 1);
    tcall_release(&f, &t2);
    buf_free(&body);
    fx_mail_free(&m);
    tcall_init(&t, API_GET, "/v1/messages", b.bearer);
    t.call.req.q_wait = "5";
    tcall_run(&f, &t);
    tcall_error(&t, 503, SP_ERR_UNAVAILABLE);
    tcall_release(&f, &t);
    fx_expect_error(&f, API_GET, "/v1/ready", NULL, NULL, 503, SP_ERR_UNAVAILABLE);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_metrics_aggregate_only)
{
    struct fx f;
    struct ident a, b;
    struct fx_mail m = {0};
    struct wire_send_response r;
    struct wire_bundle bun;
    struct wire_fetch page;
    fx_setup(&f, "api-metrics");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 1);
    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 256);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200);
    ck_assert_uint_eq(send_mail(&f, &a, &m, &r), 200); /* duplicates */
    fetch(&f, &b, NULL, &page);
    wire_fetch_free(&page);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    ck_assert_uint_eq(get_bundle(&f, &a, &b, &bun), 200);
    fx_expect_error(&f, API_GET, "/v1/prekeys/count", "Bearer nope", NULL, 401,
                    SP_ERR_UNAUTHENTICATED);
    fx_expect_error(&f, API_GET, "/nope", NULL, NULL, 404, SP_ERR_NOT_FOUND);

    struct buf text;
    buf_init(&text, 1u << 20);
    ck_assert_int_eq(api_metrics_text(f.api, &text), SP_OK);
    ck_assert_int_eq(buf_append_u8(&text, 0), SP_OK);
    const char *s = (const char *)text.data;
    const char *want[] = {
        "sealpost_envelopes_stored_total 2\n",
        "sealpost_envelopes_duplicate_total 2\n",
        "sealpost_envelopes_fetched_total 2\n",
        "sealpost_bundles_with_prekey_total 1\n",
        "sealpost_bundles_without_prekey_total 1\n",
        "sealpost_prekeys_uploaded_total 1\n",
        "sealpost_requests_total{route=\"send\",class=\"2xx\"} 2\n",
        "sealpost_requests_total{route=\"register\",class=\"2xx\"} 2\n",
        "sealpost_requests_total{route=\"unmatched\",class=\"4xx\"} 1\n",
        "sealpost_auth_failures_total{reason=\"missing_token\"} 1\n",
        "sealpost_writer_batch_jobs_bucket{le=\"+Inf\"}",
        "sealpost_longpolls_active 0\n",
        "# TYPE sealpost_writer_batch_jobs histogram\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(s, want[i]) != NULL, "missing %s in\n%s", want[i], s);
    /* nothing identifying: no address (text or hex), no token */
    ck_assert_ptr_null(strstr(s, a.text));
    ck_assert_ptr_null(strstr(s, b.text));
    ck_assert_ptr_null(strstr(s, a.bearer + 7));
    char hex[41];
    ck_assert_int_eq(hex_encode(hex, sizeof hex, a.address, SP_ADDRESS_LEN), SP_OK);
    ck_assert_ptr_null(strstr(s, hex));
    buf_free(&text);
    fx_mail_free(&m);
    fx_teardown(&f);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_health_ready_limits_metrics);
    tcase_add_test(tc, test_unknown_path_and_method);
    tcase_add_test(tc, test_content_type_and_body_size);
    tcase_add_test(tc, test_register_success_and_idempotent);
    tcase_add_test(tc, test_register_bad_input_changes_nothing);
    tcase_add_test(tc, test_register_replay);
    tcase_add_test(tc, test_token_and_bearer);
    tcase_add_test(tc, test_auth_rate_limit);
    tcase_add_test(tc, test_prekeys_upload);
    tcase_add_test(tc, test_signed_prekey_and_bundle);
    tcase_add_test(tc, test_bundle_rate_limit);
    tcase_add_test(tc, test_bundle_exactly_once_concurrent);
    tcase_add_test(tc, test_send_fetch_ack);
    tcase_add_test(tc, test_send_atomic_failures);
    tcase_add_test(tc, test_send_bad_input);
    tcase_add_test(tc, test_fetch_bad_params);
    tcase_add_test(tc, test_longpoll_wakes_on_mail);
    tcase_add_test(tc, test_longpoll_timeout_and_clamp);
    tcase_add_test(tc, test_shutdown);
    tcase_add_test(tc, test_metrics_aggregate_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(api_suite());
}
