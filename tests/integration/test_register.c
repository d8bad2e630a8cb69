/*
 * test_register.c: POST /v1/register and POST /v1/token against the real
 * relay: success, idempotent re-register, and every proof failure (forged
 * signature, bad signed-prekey signature, stale timestamp, replay, replay
 * with a malleated signature, unknown version), each with its HTTP status,
 * Error.code and proof that nothing was stored.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/address.h"
#include "common/crypto.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

static struct relay g_relay; /* one relay for the suite (unchecked fixture) */

static void suite_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE);
}

static void suite_teardown(void)
{
    rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

/* POST raw bytes to path; assert HTTP status and Error.code. */
static void expect_error(struct rc_client *c, const char *path, const struct buf *body,
                         long http, sp_status code)
{
    struct rc_response r;
    struct wire_error e;
    rc_response_init(&r);
    ck_assert_int_eq(rc_request(c, &r, "POST", path, NULL, body->data, body->len, NULL, NULL),
                     CURLE_OK);
    int got = rc_error_code(&r, &e);
    ck_assert_msg(r.status == http && got == (int)code,
                  "%s: want HTTP %ld %s, got HTTP %ld code %d (%s)", path, http,
                  sp_status_name(code), r.status, got, got >= 0 ? e.message : "no Error body");
    rc_response_free(&r);
}

/* 401 with one of two codes (see the malleated-signature cases). */
static void expect_error_any(struct rc_client *c, const char *path, const struct buf *body,
                             sp_status a, sp_status b)
{
    struct rc_response r;
    struct wire_error e;
    rc_response_init(&r);
    ck_assert_int_eq(rc_request(c, &r, "POST", path, NULL, body->data, body->len, NULL, NULL),
                     CURLE_OK);
    int got = rc_error_code(&r, &e);
    ck_assert_msg(r.status == 401 && (got == (int)a || got == (int)b),
                  "%s: want 401 %s or %s, got HTTP %ld code %d", path, sp_status_name(a),
                  sp_status_name(b), r.status, got);
    rc_response_free(&r);
}

static long post(struct rc_client *c, const char *path, const struct buf *body)
{
    struct rc_response r;
    rc_response_init(&r);
    rc_request(c, &r, "POST", path, NULL, body->data, body->len, NULL, NULL);
    long st = r.curl == CURLE_OK ? r.status : -1;
    rc_response_free(&r);
    return st;
}

/* The identity has no account: a token request fails and nobody can fetch
 * its bundle. */
static void assert_not_registered(struct rc_client *c, struct rc_identity *id)
{
    struct rc_identity req;
    ck_assert_int_eq(rc_get_token(c, id), 401);
    rh_account(c, &req, 0);
    ck_assert_int_eq(rc_bundle(c, &req, id->address_text, NULL, NULL), 404);
    rc_identity_free(&req);
}

START_TEST(test_register_token_idempotent)
{
    struct rc_client c;
    struct rc_identity id;
    struct wire_register_response rr;
    uint8_t addr[SP_ADDRESS_LEN];
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);

    memset(&rr, 0, sizeof rr);
    ck_assert_int_eq(rc_register(&c, &id, 5, &rr), 200);
    ck_assert(rr.created);
    ck_assert_int_eq(sp_address_derive(addr, id.identity_key), SP_OK);
    ck_assert_mem_eq(rr.address, addr, SP_ADDRESS_LEN);

    struct rc_token_params tp;
    struct buf body;
    struct rc_response r;
    struct wire_token_response tr;
    memset(&tp, 0, sizeof tp);
    buf_init(&body, 4096);
    rc_response_init(&r);
    ck_assert_int_eq(rc_build_token(&body, &id, &tp), 0);
    ck_assert_int_eq(rc_request(&c, &r, "POST", "/v1/token", NULL, body.data, body.len, NULL,
                                NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(wire_decode_token_response(&tr, r.body.data, r.body.len), SP_OK);
    uint64_t now = (uint64_t)time(NULL);
    ck_assert_uint_gt(tr.expires_at, now);
    ck_assert_uint_eq(tr.expires_at % 3600, 0); /* coarse on purpose: hour ceiling */
    ck_assert_int_eq(rc_get_token(&c, &id), 200);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 5);

    /* Same identity again, no prekeys: created=false, same address, nothing new. */
    memset(&rr, 0, sizeof rr);
    ck_assert_int_eq(rc_register(&c, &id, 0, &rr), 200);
    ck_assert(!rr.created);
    ck_assert_mem_eq(rr.address, addr, SP_ADDRESS_LEN);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 5);

    /* Re-register with two new prekeys: they are added. */
    ck_assert_int_eq(rc_register(&c, &id, 2, &rr), 200);
    ck_assert(!rr.created);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 7);

    /* Re-register reusing prekey ids 1..3 with other bytes: 409, nothing added. */
    struct rc_register_params p;
    memset(&p, 0, sizeof p);
    p.n_prekeys = 3;
    id.next_prekey_id = 1;
    buf_reset(&body);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    expect_error(&c, "/v1/register", &body, 409, SP_ERR_CONFLICT);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 7);

    buf_free(&body);
    rc_response_free(&r);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_register_forged_signature)
{
    struct rc_client c;
    struct rc_identity id, mallory;
    struct rc_register_params p;
    struct buf body;
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    ck_assert_int_eq(rc_identity_new(&mallory), 0);
    memset(&p, 0, sizeof p);
    p.n_prekeys = 3;
    p.signer = &mallory;
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    expect_error(&c, "/v1/register", &body, 401, SP_ERR_BAD_SIGNATURE);
    assert_not_registered(&c, &id);

    /* One flipped bit in an otherwise valid proof's signature. */
    memset(&p, 0, sizeof p);
    buf_reset(&body);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    body.data[body.len - 40] ^= 0x04;
    expect_error(&c, "/v1/register", &body, 401, SP_ERR_BAD_SIGNATURE);
    assert_not_registered(&c, &id);

    buf_free(&body);
    rc_identity_free(&id);
    rc_identity_free(&mallory);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_register_bad_spk_signature)
{
    struct rc_client c;
    struct rc_identity id;
    struct rc_register_params p;
    struct buf body;
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    memset(&p, 0, sizeof p);
    p.n_prekeys = 2;
    p.corrupt_spk_signature = true;
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    expect_error(&c, "/v1/register", &body, 401, SP_ERR_BAD_SIGNATURE);
    assert_not_registered(&c, &id);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_register_stale_timestamp)
{
    struct rc_client c;
    struct rc_identity id;
    struct rc_register_params p;
    struct buf body;
    uint64_t now = (uint64_t)time(NULL);
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    buf_init(&body, 1u << 20);
    const uint64_t stamps[] = {now - 3600, now + 3600, now - 400, 1};
    for (size_t i = 0; i < sizeof stamps / sizeof stamps[0]; i++) {
        memset(&p, 0, sizeof p);
        p.n_prekeys = 1;
        p.timestamp = stamps[i];
        buf_reset(&body);
        ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
        expect_error(&c, "/v1/register", &body, 401, SP_ERR_STALE_PROOF);
    }
    assert_not_registered(&c, &id);
    /* Inside the window (default 300 s) is fine. */
    memset(&p, 0, sizeof p);
    p.timestamp = now - 60;
    buf_reset(&body);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    ck_assert_int_eq(post(&c, "/v1/register", &body), 200);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_register_replay_and_malleated_replay)
{
    struct rc_client c;
    struct rc_identity id, req;
    struct rc_register_params p;
    struct buf body, copy;
    struct wire_bundle b;
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    memset(&p, 0, sizeof p);
    p.n_prekeys = 3;
    buf_init(&body, 1u << 20);
    buf_init(&copy, 1u << 20);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    ck_assert_int_eq(buf_append(&copy, body.data, body.len), SP_OK);
    ck_assert_int_eq(post(&c, "/v1/register", &body), 200);
    ck_assert_int_eq(rc_get_token(&c, &id), 200);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 3);

    /* Consume prekey 1, so re-applying the proof would visibly re-add it. */
    rh_account(&c, &req, 0);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(rc_bundle(&c, &req, id.address_text, &b, NULL), 200);
    ck_assert(b.has_prekey);
    ck_assert_uint_eq(b.prekey.id, 1);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 2);

    expect_error(&c, "/v1/register", &copy, 401, SP_ERR_REPLAY);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 2);

    /* Same payload and nonce, a fresh (randomised, canonical) signature: the
     * replay key comes from the nonce, so this is still a replay. */
    ck_assert_int_eq(rc_proof_resign(&copy, &id, SP_DOMAIN_REGISTER), 0);
    ck_assert_int_eq(memcmp(copy.data + copy.len - 64, body.data + body.len - 64, 64) != 0, 1);
    expect_error(&c, "/v1/register", &copy, 401, SP_ERR_REPLAY);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 2);

    /* Same payload, signature S replaced by S + L, which libsignal's
     * verifier accepts (checked locally). The relay refuses it either as a
     * replay (PROTOCOL.md 6.1/6.3) or as a non-canonical signature
     * (server/api/auth.c s_is_canonical); either way nothing is applied. */
    ck_assert_int_eq(rc_proof_malleate(&copy), 0);
    expect_error_any(&c, "/v1/register", &copy, SP_ERR_REPLAY, SP_ERR_BAD_SIGNATURE);
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 2);

    buf_free(&body);
    buf_free(&copy);
    rc_identity_free(&id);
    rc_identity_free(&req);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_register_unknown_version)
{
    struct rc_client c;
    struct rc_identity id;
    struct rc_register_params p;
    struct buf body;
    rh_client(&c, &g_relay);
    ck_assert_int_eq(rc_identity_new(&id), 0);
    memset(&p, 0, sizeof p);
    p.n_prekeys = 1;
    p.version = 2;
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(rc_build_register(&body, &id, &p), 0);
    expect_error(&c, "/v1/register", &body, 400, SP_ERR_UNSUPPORTED_VERSION);
    assert_not_registered(&c, &id);
    buf_free(&body);
    rc_identity_free(&id);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_token_failures)
{
    struct rc_client c;
    struct rc_identity id, stranger, mallory;
    struct rc_token_params tp;
    struct buf body, copy;
    rh_client(&c, &g_relay);
    rh_account(&c, &id, 0);
    ck_assert_int_eq(rc_identity_new(&stranger), 0);
    ck_assert_int_eq(rc_identity_new(&mallory), 0);
    buf_init(&body, 4096);
    buf_init(&copy, 4096);

    /* Unknown address and a forged signature look the same (no enumeration). */
    memset(&tp, 0, sizeof tp);
    ck_assert_int_eq(rc_build_token(&body, &stranger, &tp), 0);
    expect_error(&c, "/v1/token", &body, 401, SP_ERR_UNAUTHENTICATED);
    tp.signer = &mallory;
    buf_reset(&body);
    ck_assert_int_eq(rc_build_token(&body, &id, &tp), 0);
    expect_error(&c, "/v1/token", &body, 401, SP_ERR_UNAUTHENTICATED);

    /* Stale. */
    memset(&tp, 0, sizeof tp);
    tp.timestamp = (uint64_t)time(NULL) - 3600;
    buf_reset(&body);
    ck_assert_int_eq(rc_build_token(&body, &id, &tp), 0);
    expect_error(&c, "/v1/token", &body, 401, SP_ERR_STALE_PROOF);

    /* Replay, then malleated replay. */
    memset(&tp, 0, sizeof tp);
    buf_reset(&body);
    ck_assert_int_eq(rc_build_token(&body, &id, &tp), 0);
    ck_assert_int_eq(buf_append(&copy, body.data, body.len), SP_OK);
    ck_assert_int_eq(post(&c, "/v1/token", &body), 200);
    expect_error(&c, "/v1/token", &copy, 401, SP_ERR_REPLAY);
    ck_assert_int_eq(rc_proof_resign(&copy, &id, SP_DOMAIN_TOKEN), 0);
    expect_error(&c, "/v1/token", &copy, 401, SP_ERR_REPLAY);
    ck_assert_int_eq(rc_proof_malleate(&copy), 0);
    expect_error_any(&c, "/v1/token", &copy, SP_ERR_REPLAY, SP_ERR_UNAUTHENTICATED);

    /* The earlier token still works. */
    ck_assert_uint_eq(rh_prekey_count(&c, &id), 0);

    buf_free(&body);
    buf_free(&copy);
    rc_identity_free(&id);
    rc_identity_free(&stranger);
    rc_identity_free(&mallory);
    rc_client_free(&c);
}
END_TEST

static Suite *register_suite(void)
{
    Suite *s = suite_create("integration_register");
    TCase *tc = tcase_create("register");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_register_token_idempotent);
    tcase_add_test(tc, test_register_forged_signature);
    tcase_add_test(tc, test_register_bad_spk_signature);
    tcase_add_test(tc, test_register_stale_timestamp);
    tcase_add_test(tc, test_register_replay_and_malleated_replay);
    tcase_add_test(tc, test_register_unknown_version);
    tcase_add_test(tc, test_token_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(register_suite());
    rh_global_cleanup();
    return rc;
}
