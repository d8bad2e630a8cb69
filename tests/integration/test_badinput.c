/*
 * test_badinput.c: every endpoint against bad input: unknown paths and
 * methods, wrong content types, oversized bodies, malformed and truncated
 * protobuf, wrong key/id lengths, unknown versions, bad query numbers, bad
 * addresses and bad bearer tokens. Each case checks the HTTP status and the
 * Error.code, and that nothing stored changed (counts, mailbox, bundle
 * re-read through the API).
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/encoding.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

static struct relay g_relay;

static void setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE);
}

static void teardown(void)
{
    rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

/* ---- a tiny protobuf writer for messages our encoders refuse to produce */
static void pb_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        ck_assert_int_eq(buf_append_u8(b, (uint8_t)(v | 0x80)), SP_OK);
        v >>= 7;
    }
    ck_assert_int_eq(buf_append_u8(b, (uint8_t)v), SP_OK);
}

static void pb_uint(struct buf *b, unsigned field, uint64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void pb_bytes(struct buf *b, unsigned field, const uint8_t *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    ck_assert_int_eq(buf_append(b, p, n), SP_OK);
}

/* The observable state of an account, read back through the API. */
struct snapshot {
    uint32_t prekeys;
    long pending;
    struct wire_signed_prekey spk;
};

/* Bundle reads consume a prekey, so the snapshot reads count + mail only,
 * plus the signed prekey through a bundle when asked (accounting for it). */
static void snap(struct rc_client *c, struct rc_identity *who, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->prekeys = rh_prekey_count(c, who);
    s->pending = rc_count_pending(c, who);
    ck_assert_int_ge(s->pending, 0);
}

static void assert_same(struct rc_client *c, struct rc_identity *who, const struct snapshot *a)
{
    struct snapshot b;
    snap(c, who, &b);
    ck_assert_uint_eq(a->prekeys, b.prekeys);
    ck_assert_int_eq(a->pending, b.pending);
}

static void expect(struct rc_client *c, const char *method, const char *path, const char *ctype,
                   const struct buf *body, const char *bearer, const char *raw_auth, long http,
                   sp_status code, int index)
{
    struct rc_response r;
    struct wire_error e;
    rc_response_init(&r);
    CURLcode cc = rc_request(c, &r, method, path, ctype, body != NULL ? body->data : NULL,
                             body != NULL ? body->len : 0, bearer, raw_auth);
    ck_assert_msg(cc == CURLE_OK, "%s %s: curl %d %s", method, path, cc, c->err);
    int got = rc_error_code(&r, &e);
    ck_assert_msg(r.status == http && got == (int)code,
                  "%s %s: want HTTP %ld %s, got HTTP %ld code %d (%s)", method, path, http,
                  sp_status_name(code), r.status, got, got >= 0 ? e.message : "no Error body");
    /* Every 401 names the scheme (RFC 9110 11.6.1); no other status does. */
    ck_assert_str_eq(r.www_authenticate, http == 401 ? "Bearer" : "");
    if (index >= 0) {
        ck_assert_msg(e.has_index, "%s %s: Error.index missing", method, path);
        ck_assert_uint_eq(e.index, (unsigned)index);
    }
    rc_response_free(&r);
}

START_TEST(test_paths_and_methods)
{
    struct rc_client c;
    struct rc_response r;
    rh_client(&c, &g_relay);
    rc_response_init(&r);
    expect(&c, "GET", "/v1/nope", NULL, NULL, NULL, NULL, 404, SP_ERR_NOT_FOUND, -1);
    expect(&c, "GET", "/", NULL, NULL, NULL, NULL, 404, SP_ERR_NOT_FOUND, -1);
    expect(&c, "GET", "/v2/health", NULL, NULL, NULL, NULL, 404, SP_ERR_NOT_FOUND, -1);
    expect(&c, "GET", "/v1/health/x", NULL, NULL, NULL, NULL, 404, SP_ERR_NOT_FOUND, -1);
    expect(&c, "GET", "/v1/register", NULL, NULL, NULL, NULL, 405, SP_ERR_METHOD_NOT_ALLOWED, -1);
    expect(&c, "DELETE", "/v1/messages", NULL, NULL, NULL, NULL, 405, SP_ERR_METHOD_NOT_ALLOWED,
           -1);
    expect(&c, "PUT", "/v1/health", NULL, NULL, NULL, NULL, 405, SP_ERR_METHOD_NOT_ALLOWED, -1);
    expect(&c, "OPTIONS", "/v1/token", NULL, NULL, NULL, NULL, 405, SP_ERR_METHOD_NOT_ALLOWED,
           -1);
    expect(&c, "POST", "/v1/prekeys/count", NULL, NULL, NULL, NULL, 405,
           SP_ERR_METHOD_NOT_ALLOWED, -1);
    /* 405 carries Allow naming the real method. */
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/register", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.allow, "POST") != NULL, "Allow: '%s'", r.allow);
    ck_assert_int_eq(rc_request(&c, &r, "DELETE", "/v1/messages", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_msg(strstr(r.allow, "GET") != NULL && strstr(r.allow, "POST") != NULL,
                  "Allow: '%s'", r.allow);
    /* Health, readiness and limits answer without auth. */
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/ready", NULL, NULL, 0, NULL, NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/limits", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    struct sp_limits lim;
    ck_assert_int_eq(wire_decode_limits(&lim, r.body.data, r.body.len), SP_OK);
    ck_assert_uint_eq(lim.max_envelopes_per_request, SP_DEFAULT_MAX_ENVELOPES_PER_REQ);
    ck_assert_uint_eq(lim.max_body_bytes, SP_DEFAULT_MAX_BODY_BYTES);
    rc_response_free(&r);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_content_type)
{
    struct rc_client c;
    struct rc_identity id;
    struct rc_register_params p;
    struct buf body;
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    memset(&p, 0, sizeof p);
    p.n_prekeys = 2;
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    const char *bad[] = {"text/plain", "application/json", "application/protobuf",
                         "application/x-www-form-urlencoded", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(&c, "POST", "/v1/register", bad[i], &body, NULL, NULL, 415,
               SP_ERR_UNSUPPORTED_MEDIA, -1);
    ck_assert_int_eq(rc_get_token(&c, &id), 401); /* nothing was registered */

    /* Case-insensitive, parameters ignored: the same proof is accepted once. */
    struct rc_response r;
    rc_response_init(&r);
    ck_assert_int_eq(rc_request(&c, &r, "POST", "/v1/register", "Application/X-Protobuf; q=1",
                                body.data, body.len, NULL, NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(rc_get_token(&c, &id), 200);

    /* Authenticated endpoint: 415 before anything else is looked at. */
    struct snapshot s;
    snap(&c, &id, &s);
    struct wire_prekey_upload *up = calloc(1, sizeof *up);
    up->n = 3;
    ck_assert_int_eq(rc_make_prekeys(&id, up->prekeys, 3), 0);
    buf_reset(&body);
    ck_assert_int_eq(wire_encode_prekey_upload(&body, up), SP_OK);
    expect(&c, "PUT", "/v1/prekeys", "text/plain", &body, id.bearer, NULL, 415,
           SP_ERR_UNSUPPORTED_MEDIA, -1);
    assert_same(&c, &id, &s);
    free(up);
    rc_response_free(&r);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_oversized_body_keepalive)
{
    struct rc_client c;
    struct rc_identity id;
    struct rc_response r;
    struct buf big;
    struct snapshot s;
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 4);
    snap(&c, &id, &s);
    rc_response_init(&r);
    /* Open the keep-alive connection. */
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 200);

    buf_init(&big, SP_DEFAULT_MAX_BODY_BYTES + 1024 * 1024);
    ck_assert_int_eq(buf_reserve(&big, SP_DEFAULT_MAX_BODY_BYTES + 4096), SP_OK);
    ck_assert_int_eq(sp_random(big.data, SP_DEFAULT_MAX_BODY_BYTES + 4096), SP_OK);
    big.len = SP_DEFAULT_MAX_BODY_BYTES + 4096;
    CURLcode cc = rc_request(&c, &r, "POST", "/v1/messages", NULL, big.data, big.len, id.bearer,
                             NULL);
    ck_assert_msg(cc == CURLE_OK, "oversized POST: curl %d %s", cc, c.err);
    ck_assert_int_eq(r.status, 413);
    ck_assert_int_eq(r.num_connects, 0); /* sent on the existing connection */
    ck_assert_int_eq(rc_error_code(&r, NULL), SP_ERR_TOO_LARGE);

    /* The same handle (same connection unless the relay chose to close it)
     * goes on working. */
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/prekeys/count", NULL, NULL, 0, id.bearer,
                                NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    fprintf(stderr, "oversized body: follow-up request opened %ld new connection(s)\n",
            r.num_connects);
    assert_same(&c, &id, &s);
    buf_free(&big);
    rc_response_free(&r);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_malformed_bodies)
{
    struct rc_client c;
    struct rc_identity id;
    struct snapshot s;
    struct buf body;
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 3);
    snap(&c, &id, &s);
    buf_init(&body, 1u << 20);

    static const struct {
        const char *method, *path;
        bool auth;
    } ep[] = {
        {"POST", "/v1/register", false},   {"POST", "/v1/token", false},
        {"PUT", "/v1/prekeys", true},      {"PUT", "/v1/signed-prekey", true},
        {"POST", "/v1/messages", true},    {"POST", "/v1/messages/ack", true},
    };
    uint8_t garbage[64];
    memset(garbage, 0xff, sizeof garbage);
    for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++) {
        const char *bearer = ep[i].auth ? id.bearer : NULL;
        buf_reset(&body);
        ck_assert_int_eq(buf_append(&body, garbage, sizeof garbage), SP_OK);
        expect(&c, ep[i].method, ep[i].path, NULL, &body, bearer, NULL, 400, SP_ERR_MALFORMED, -1);
        /* A length-delimited field that claims more bytes than follow. */
        buf_reset(&body);
        const uint8_t trunc[] = {0x0a, 0x40, 0x01, 0x02, 0x03};
        ck_assert_int_eq(buf_append(&body, trunc, sizeof trunc), SP_OK);
        expect(&c, ep[i].method, ep[i].path, NULL, &body, bearer, NULL, 400, SP_ERR_MALFORMED, -1);
        /* Valid protobuf without the required fields. */
        buf_reset(&body);
        pb_uint(&body, 15, 7); /* an unknown field only */
        expect(&c, ep[i].method, ep[i].path, NULL, &body, bearer, NULL, 400,
               SP_ERR_INVALID_FIELD, -1);
    }

    /* Truncated valid messages, cut at every 7th byte. */
    struct rc_register_params p;
    memset(&p, 0, sizeof p);
    p.n_prekeys = 2;
    struct rc_identity fresh;
    ck_assert_int_eq(rc_identity_new(&fresh), 0);
    buf_reset(&body);
    ck_assert_int_eq(rc_build_register(&body, &fresh, &p), 0);
    for (size_t cut = 1; cut < body.len; cut += 7) {
        struct rc_response r;
        rc_response_init(&r);
        ck_assert_int_eq(rc_request(&c, &r, "POST", "/v1/register", NULL, body.data, cut, NULL,
                                    NULL), CURLE_OK);
        int code = rc_error_code(&r, NULL);
        ck_assert_msg(r.status == 400 && (code == SP_ERR_MALFORMED || code == SP_ERR_INVALID_FIELD),
                      "register cut at %zu/%zu: HTTP %ld code %d", cut, body.len, r.status, code);
        rc_response_free(&r);
    }
    ck_assert_int_eq(rc_get_token(&c, &fresh), 401);
    rc_identity_free(&fresh);
    assert_same(&c, &id, &s);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

/* A RegisterPayload with the given identity-key bytes, signed for real. */
static void handmade_register(struct buf *out, const struct rc_identity *id, const uint8_t *ik,
                              size_t ik_len, const uint8_t *pk, size_t pk_len, bool kem)
{
    struct buf pl, spk;
    uint8_t nonce[SP_NONCE_LEN], sig[SP_SIGNATURE_LEN];
    buf_init(&pl, 1u << 16);
    buf_init(&spk, 1024);
    ck_assert_int_eq(sp_random(nonce, sizeof nonce), SP_OK);
    pb_uint(&pl, 1, 1);
    pb_bytes(&pl, 2, ik, ik_len);
    pb_uint(&pl, 3, id->registration_id);
    pb_uint(&pl, 4, 1);
    pb_uint(&spk, 1, id->spk.id);
    pb_bytes(&spk, 2, id->spk.public_key, SP_PUBKEY_LEN);
    pb_bytes(&spk, 3, id->spk.signature, SP_SIGNATURE_LEN);
    pb_bytes(&pl, 5, spk.data, spk.len);
    if (pk != NULL) {
        struct buf one;
        buf_init(&one, 1024);
        pb_uint(&one, 1, 1);
        pb_bytes(&one, 2, pk, pk_len);
        pb_bytes(&pl, 6, one.data, one.len);
        buf_free(&one);
    }
    pb_uint(&pl, 7, (uint64_t)time(NULL));
    pb_bytes(&pl, 8, nonce, sizeof nonce);
    if (kem)
        pb_bytes(&pl, 9, spk.data, spk.len);
    ck_assert_int_eq(rc_sign_proof(id, SP_DOMAIN_REGISTER, pl.data, pl.len, sig), 0);
    buf_reset(out);
    pb_bytes(out, 1, pl.data, pl.len);
    pb_bytes(out, 2, sig, sizeof sig);
    buf_free(&pl);
    buf_free(&spk);
}

START_TEST(test_wrong_lengths_and_versions)
{
    struct rc_client c;
    struct rc_identity id, bob;
    struct snapshot s;
    struct buf body, tmp;
    uint8_t key32[32], key33[SP_PUBKEY_LEN], id15[15], id16[16];
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 2);
    rh_account(&c, &bob, 2);
    snap(&c, &bob, &s);
    buf_init(&body, 1u << 20);
    buf_init(&tmp, 1u << 20);
    ck_assert_int_eq(sp_random(key32, sizeof key32), SP_OK);
    memcpy(key33, bob.identity_key, SP_PUBKEY_LEN);
    key33[0] = 0x06;
    ck_assert_int_eq(sp_random(id15, sizeof id15), SP_OK);
    ck_assert_int_eq(sp_random(id16, sizeof id16), SP_OK);

    /* Register: identity key of 32 bytes, of a wrong type, a bad prekey, a KEM prekey. */
    struct rc_identity fresh;
    ck_assert_int_eq(rc_identity_new(&fresh), 0);
    handmade_register(&body, &fresh, key32, sizeof key32, NULL, 0, false);
    expect(&c, "POST", "/v1/register", NULL, &body, NULL, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    handmade_register(&body, &fresh, key33, sizeof key33, NULL, 0, false);
    expect(&c, "POST", "/v1/register", NULL, &body, NULL, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    handmade_register(&body, &fresh, fresh.identity_key, SP_PUBKEY_LEN, key32, sizeof key32, false);
    expect(&c, "POST", "/v1/register", NULL, &body, NULL, NULL, 400, SP_ERR_INVALID_FIELD, 0);
    handmade_register(&body, &fresh, fresh.identity_key, SP_PUBKEY_LEN, NULL, 0, true);
    expect(&c, "POST", "/v1/register", NULL, &body, NULL, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    /* The same handmade builder with nothing wrong is accepted (the cases above are real). */
    handmade_register(&body, &fresh, fresh.identity_key, SP_PUBKEY_LEN, NULL, 0, false);
    struct rc_response ok;
    rc_response_init(&ok);
    ck_assert_int_eq(rc_request(&c, &ok, "POST", "/v1/register", NULL, body.data, body.len, NULL,
                                NULL), CURLE_OK);
    ck_assert_int_eq(ok.status, 200);
    rc_response_free(&ok);
    rc_identity_free(&fresh);

    /* Prekey upload: 32-byte key at index 1, wrong key type, 0 and 101 prekeys. */
    buf_reset(&body);
    for (int i = 0; i < 2; i++) {
        buf_reset(&tmp);
        pb_uint(&tmp, 1, 500 + (unsigned)i);
        if (i == 1)
            pb_bytes(&tmp, 2, key32, sizeof key32);
        else
            pb_bytes(&tmp, 2, bob.identity_key, SP_PUBKEY_LEN);
        pb_bytes(&body, 1, tmp.data, tmp.len);
    }
    expect(&c, "PUT", "/v1/prekeys", NULL, &body, bob.bearer, NULL, 400, SP_ERR_INVALID_FIELD, 1);
    buf_reset(&body);
    buf_reset(&tmp);
    pb_uint(&tmp, 1, 600);
    pb_bytes(&tmp, 2, key33, sizeof key33);
    pb_bytes(&body, 1, tmp.data, tmp.len);
    expect(&c, "PUT", "/v1/prekeys", NULL, &body, bob.bearer, NULL, 400, SP_ERR_INVALID_FIELD, 0);
    buf_reset(&body);
    for (unsigned i = 0; i < 101; i++) {
        buf_reset(&tmp);
        pb_uint(&tmp, 1, 700 + i);
        pb_bytes(&tmp, 2, bob.identity_key, SP_PUBKEY_LEN);
        pb_bytes(&body, 1, tmp.data, tmp.len);
    }
    expect(&c, "PUT", "/v1/prekeys", NULL, &body, bob.bearer, NULL, 413, SP_ERR_TOO_MANY, -1);
    /* Duplicate id within one upload: index of the second occurrence. */
    buf_reset(&body);
    for (int i = 0; i < 3; i++) {
        buf_reset(&tmp);
        pb_uint(&tmp, 1, i == 2 ? 800 : 800 + (unsigned)i);
        pb_bytes(&tmp, 2, bob.identity_key, SP_PUBKEY_LEN);
        pb_bytes(&body, 1, tmp.data, tmp.len);
    }
    expect(&c, "PUT", "/v1/prekeys", NULL, &body, bob.bearer, NULL, 400, SP_ERR_INVALID_FIELD, 2);

    /* Signed prekey: short signature, forged signature. */
    struct wire_signed_prekey spk = bob.spk;
    spk.id = 2;
    buf_reset(&body);
    pb_uint(&body, 1, 2);
    pb_bytes(&body, 2, spk.public_key, SP_PUBKEY_LEN);
    pb_bytes(&body, 3, spk.signature, 63);
    expect(&c, "PUT", "/v1/signed-prekey", NULL, &body, bob.bearer, NULL, 400,
           SP_ERR_INVALID_FIELD, -1);
    spk.signature[10] ^= 0x20;
    buf_reset(&body);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &spk), SP_OK);
    expect(&c, "PUT", "/v1/signed-prekey", NULL, &body, bob.bearer, NULL, 401,
           SP_ERR_BAD_SIGNATURE, -1);
    /* Signed by another identity. */
    spk = bob.spk;
    spk.id = 3;
    ck_assert_int_eq(rc_sign_raw(&id, spk.public_key, SP_PUBKEY_LEN, spk.signature), 0);
    buf_reset(&body);
    ck_assert_int_eq(wire_encode_signed_prekey(&body, &spk), SP_OK);
    expect(&c, "PUT", "/v1/signed-prekey", NULL, &body, bob.bearer, NULL, 401,
           SP_ERR_BAD_SIGNATURE, -1);

    /* Send: 19-byte recipient, 15-byte id, unknown seal version, bad bucket, empty, 101. */
    struct buf sealed;
    buf_init(&sealed, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(rc_fake_sealed(&sealed, 256), 0);
    struct {
        const uint8_t *rcpt;
        size_t rcpt_len;
        const uint8_t *mid;
        size_t mid_len;
        uint8_t version;
        size_t content_len;
        long http;
        sp_status code;
    } bad_env[] = {
        {bob.address, 19, id16, 16, 1, sealed.len, 400, SP_ERR_INVALID_FIELD},
        {bob.address, 20, id15, 15, 1, sealed.len, 400, SP_ERR_INVALID_FIELD},
        {bob.address, 20, id16, 16, 2, sealed.len, 400, SP_ERR_UNSUPPORTED_VERSION},
        {bob.address, 20, id16, 16, 0, sealed.len, 400, SP_ERR_UNSUPPORTED_VERSION},
        {bob.address, 20, id16, 16, 1, sealed.len - 1, 400, SP_ERR_INVALID_FIELD},
        {bob.address, 20, id16, 16, 1, SP_SEAL_OVERHEAD + 128, 400, SP_ERR_INVALID_FIELD},
    };
    for (size_t k = 0; k < sizeof bad_env / sizeof bad_env[0]; k++) {
        /* A good envelope at index 0, the bad one at index 1. */
        buf_reset(&body);
        buf_reset(&tmp);
        uint8_t good_id[16];
        ck_assert_int_eq(sp_random(good_id, sizeof good_id), SP_OK);
        pb_bytes(&tmp, 1, bob.address, SP_ADDRESS_LEN);
        pb_bytes(&tmp, 2, good_id, sizeof good_id);
        pb_bytes(&tmp, 3, sealed.data, sealed.len);
        pb_bytes(&body, 1, tmp.data, tmp.len);
        buf_reset(&tmp);
        uint8_t saved = sealed.data[0];
        sealed.data[0] = bad_env[k].version;
        pb_bytes(&tmp, 1, bad_env[k].rcpt, bad_env[k].rcpt_len);
        pb_bytes(&tmp, 2, bad_env[k].mid, bad_env[k].mid_len);
        pb_bytes(&tmp, 3, sealed.data, bad_env[k].content_len);
        sealed.data[0] = saved;
        pb_bytes(&body, 1, tmp.data, tmp.len);
        expect(&c, "POST", "/v1/messages", NULL, &body, id.bearer, NULL, bad_env[k].http,
               bad_env[k].code, 1);
    }
    buf_reset(&body);
    pb_uint(&body, 9, 1);
    expect(&c, "POST", "/v1/messages", NULL, &body, id.bearer, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    buf_reset(&body);
    for (int i = 0; i < 101; i++) {
        uint8_t mid[16];
        ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
        buf_reset(&tmp);
        pb_bytes(&tmp, 1, bob.address, SP_ADDRESS_LEN);
        pb_bytes(&tmp, 2, mid, sizeof mid);
        pb_bytes(&tmp, 3, sealed.data, sealed.len);
        pb_bytes(&body, 1, tmp.data, tmp.len);
    }
    expect(&c, "POST", "/v1/messages", NULL, &body, id.bearer, NULL, 413, SP_ERR_TOO_MANY, -1);

    /* Ack: 15-byte id at index 1; no ids. */
    buf_reset(&body);
    pb_bytes(&body, 1, id16, 16);
    pb_bytes(&body, 1, id15, 15);
    expect(&c, "POST", "/v1/messages/ack", NULL, &body, bob.bearer, NULL, 400,
           SP_ERR_INVALID_FIELD, 1);

    /* Token: unknown version; 19-byte address. */
    buf_reset(&body);
    buf_reset(&tmp);
    uint8_t sig[SP_SIGNATURE_LEN], nonce[SP_NONCE_LEN];
    ck_assert_int_eq(sp_random(nonce, sizeof nonce), SP_OK);
    pb_uint(&tmp, 1, 2);
    pb_bytes(&tmp, 2, bob.address, SP_ADDRESS_LEN);
    pb_uint(&tmp, 3, (uint64_t)time(NULL));
    pb_bytes(&tmp, 4, nonce, sizeof nonce);
    ck_assert_int_eq(rc_sign_proof(&bob, SP_DOMAIN_TOKEN, tmp.data, tmp.len, sig), 0);
    pb_bytes(&body, 1, tmp.data, tmp.len);
    pb_bytes(&body, 2, sig, sizeof sig);
    expect(&c, "POST", "/v1/token", NULL, &body, NULL, NULL, 400, SP_ERR_UNSUPPORTED_VERSION, -1);
    buf_reset(&body);
    buf_reset(&tmp);
    pb_uint(&tmp, 1, 1);
    pb_bytes(&tmp, 2, bob.address, SP_ADDRESS_LEN - 1);
    pb_uint(&tmp, 3, (uint64_t)time(NULL));
    pb_bytes(&tmp, 4, nonce, sizeof nonce);
    ck_assert_int_eq(rc_sign_proof(&bob, SP_DOMAIN_TOKEN, tmp.data, tmp.len, sig), 0);
    pb_bytes(&body, 1, tmp.data, tmp.len);
    pb_bytes(&body, 2, sig, 63);
    expect(&c, "POST", "/v1/token", NULL, &body, NULL, NULL, 400, SP_ERR_INVALID_FIELD, -1);

    /* Bob's state is what it was; his signed prekey is still the original. */
    assert_same(&c, &bob, &s);
    struct wire_bundle b;
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(rc_bundle(&c, &id, bob.address_text, &b, NULL), 200);
    ck_assert_uint_eq(b.signed_prekey.id, bob.spk.id);
    ck_assert_mem_eq(b.signed_prekey.signature, bob.spk.signature, SP_SIGNATURE_LEN);
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), s.prekeys - 1);

    buf_free(&sealed);
    buf_free(&body);
    buf_free(&tmp);
    rc_identity_free(&id);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_bad_query_and_address)
{
    struct rc_client c;
    struct rc_identity id;
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 1);
    const char *bad_q[] = {
        "/v1/messages?limit=0",     "/v1/messages?limit=abc",  "/v1/messages?limit=-1",
        "/v1/messages?limit=101",   "/v1/messages?limit=",     "/v1/messages?limit=0x10",
        "/v1/messages?limit=%201",  "/v1/messages?after=x",    "/v1/messages?after=-1",
        "/v1/messages?after=18446744073709551616", "/v1/messages?wait=-5",
        "/v1/messages?wait=1.5",    "/v1/messages?wait=99999999999",
    };
    for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++)
        expect(&c, "GET", bad_q[i], NULL, NULL, id.bearer, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    const char *bad_addr[] = {
        "/v1/bundle/short",
        "/v1/bundle/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",  /* '1' is not base32 */
        "/v1/bundle/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 33 chars */
        "/v1/bundle/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%3D%3D",
    };
    for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++)
        expect(&c, "GET", bad_addr[i], NULL, NULL, id.bearer, NULL, 400, SP_ERR_INVALID_FIELD, -1);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 1);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_bad_tokens)
{
    struct rc_client c;
    struct rc_identity id;
    struct snapshot s;
    char forged[SP_TOKEN_TEXT_LEN + 1], auth[128];
    uint8_t rnd[SP_TOKEN_LEN];
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 2);
    snap(&c, &id, &s);
    ck_assert_int_eq(sp_random(rnd, sizeof rnd), SP_OK);
    ck_assert_int_eq(base64url_encode(forged, sizeof forged, rnd, sizeof rnd), SP_OK);

    char bundle_path[64];
    snprintf(bundle_path, sizeof bundle_path, "/v1/bundle/%s", id.address_text);
    static const struct {
        const char *method, *path;
    } ep[] = {
        {"PUT", "/v1/prekeys"},   {"GET", "/v1/prekeys/count"}, {"PUT", "/v1/signed-prekey"},
        {"GET", NULL},            {"POST", "/v1/messages"},     {"GET", "/v1/messages"},
        {"POST", "/v1/messages/ack"},
    };
    char shortened[SP_TOKEN_TEXT_LEN + 1];
    memcpy(shortened, id.bearer, SP_TOKEN_TEXT_LEN - 1);
    shortened[SP_TOKEN_TEXT_LEN - 1] = '\0';
    char flipped[SP_TOKEN_TEXT_LEN + 1];
    memcpy(flipped, id.bearer, sizeof flipped);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
    char padded[SP_TOKEN_TEXT_LEN + 2];
    snprintf(padded, sizeof padded, "%s=", id.bearer);

    struct buf body;
    buf_init(&body, 1024);
    pb_uint(&body, 15, 1); /* any body; auth is checked before decoding */
    for (size_t i = 0; i < sizeof ep / sizeof ep[0]; i++) {
        const char *path = ep[i].path != NULL ? ep[i].path : bundle_path;
        const struct buf *b = strcmp(ep[i].method, "GET") == 0 ? NULL : &body;
        expect(&c, ep[i].method, path, NULL, b, NULL, NULL, 401, SP_ERR_UNAUTHENTICATED, -1);
        expect(&c, ep[i].method, path, NULL, b, forged, NULL, 401, SP_ERR_UNAUTHENTICATED, -1);
        expect(&c, ep[i].method, path, NULL, b, shortened, NULL, 401, SP_ERR_UNAUTHENTICATED, -1);
        expect(&c, ep[i].method, path, NULL, b, flipped, NULL, 401, SP_ERR_UNAUTHENTICATED, -1);
        expect(&c, ep[i].method, path, NULL, b, padded, NULL, 401, SP_ERR_UNAUTHENTICATED, -1);
        snprintf(auth, sizeof auth, "Basic %s", id.bearer);
        expect(&c, ep[i].method, path, NULL, b, NULL, auth, 401, SP_ERR_UNAUTHENTICATED, -1);
        expect(&c, ep[i].method, path, NULL, b, NULL, "Bearer", 401, SP_ERR_UNAUTHENTICATED, -1);
        snprintf(auth, sizeof auth, "Bearer  %s", id.bearer);
        expect(&c, ep[i].method, path, NULL, b, NULL, auth, 401, SP_ERR_UNAUTHENTICATED, -1);
    }
    /* The real token still works and nothing changed. */
    assert_same(&c, &id, &s);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

/* Read a whole file (for scanning the database bytes). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    *len = 0;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n > 0 && (p = malloc((size_t)n)) != NULL && fread(p, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    fclose(f);
    return p;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

START_TEST(test_expired_token_and_token_at_rest)
{
    /* Token expiry is hour-coarse (>= token_ttl_s, minimum 60 s), so the
     * test ages the stored token directly in the stopped relay's database,
     * then checks the relay refuses it after a restart. */
    struct relay r;
    struct rc_client c;
    struct rc_identity id;
    uint8_t token[SP_TOKEN_LEN], hash[SP_SHA256_LEN];
    size_t tl = 0;
    rh_start(&r, RH_CONF_BASE);
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    rh_account(&c, &id, 1);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 1);
    rc_client_free(&c);
    rh_stop(&r);

    ck_assert_int_eq(base64url_decode(token, sizeof token, &tl, id.bearer, strlen(id.bearer)),
                     SP_OK);
    ck_assert_uint_eq(tl, SP_TOKEN_LEN);
    ck_assert_int_eq(sp_sha256(hash, token, sizeof token, NULL, 0), SP_OK);

    /* At rest: the hash is stored, the token itself nowhere in the files. */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open(r.db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM tokens WHERE hash = ?", -1, &q,
                                        NULL), SQLITE_OK);
    sqlite3_bind_blob(q, 1, hash, sizeof hash, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    const char *suffixes[] = {"", "-wal"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        size_t n = 0;
        snprintf(path, sizeof path, "%s%s", r.db_path, suffixes[i]);
        uint8_t *bytes = slurp(path, &n);
        ck_assert_msg(!contains(bytes, n, token, sizeof token), "raw token found in %s", path);
        free(bytes);
    }
    /* Age it: expires_at in the past. */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE tokens SET expires_at = ? WHERE hash = ?", -1,
                                        &q, NULL), SQLITE_OK);
    sqlite3_bind_int64(q, 1, (sqlite3_int64)time(NULL) - 3600);
    sqlite3_bind_blob(q, 2, hash, sizeof hash, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    ck_assert_int_eq(sqlite3_changes(db), 1);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);

    rh_restart(&r);
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    expect(&c, "GET", "/v1/prekeys/count", NULL, NULL, id.bearer, NULL, 401,
           SP_ERR_UNAUTHENTICATED, -1);
    expect(&c, "GET", "/v1/messages", NULL, NULL, id.bearer, NULL, 401, SP_ERR_UNAUTHENTICATED,
           -1);
    /* A fresh token works and the account is intact. */
    ck_assert_int_eq(rc_get_token(&c, &id), 200);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 1);
    rc_client_free(&c);
    rh_stop(&r);
    rc_identity_free(&id);
    rh_destroy(&r);
}
END_TEST

static Suite *badinput_suite(void)
{
    Suite *s = suite_create("integration_badinput");
    TCase *tc = tcase_create("badinput");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_paths_and_methods);
    tcase_add_test(tc, test_content_type);
    tcase_add_test(tc, test_oversized_body_keepalive);
    tcase_add_test(tc, test_malformed_bodies);
    tcase_add_test(tc, test_wrong_lengths_and_versions);
    tcase_add_test(tc, test_bad_query_and_address);
    tcase_add_test(tc, test_bad_tokens);
    suite_add_tcase(s, tc);
    tc = tcase_create("expiry");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_expired_token_and_token_at_rest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(badinput_suite());
    rh_global_cleanup();
    return rc;
}
