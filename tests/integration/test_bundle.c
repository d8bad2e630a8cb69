/*
 * test_bundle.c: GET /v1/bundle/{address}. Concurrent requesters never get
 * one one-time prekey twice, every uploaded prekey is handed out exactly
 * once, an exhausted account answers a bundle without a prekey, and the
 * per-(requester, target) rate limit answers 429 with Retry-After.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

#define N_PREKEYS 100
#define N_THREADS 4
#define N_REQUESTERS_PER_THREAD 4

static struct relay g_relay;

static void exhaust_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE "bundle_fetches_per_target = 1000\n");
}

static void ratelimit_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE "bundle_fetches_per_target = 3\n"
                                    "bundle_fetch_window_s = 3600\n");
}

static void relay_teardown(void)
{
    rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

static void assert_bundle_is(const struct wire_bundle *b, const struct rc_identity *id)
{
    ck_assert_mem_eq(b->identity_key, id->identity_key, SP_PUBKEY_LEN);
    ck_assert_uint_eq(b->registration_id, id->registration_id);
    ck_assert_uint_eq(b->device_id, SP_DEVICE_ID);
    ck_assert_uint_eq(b->signed_prekey.id, id->spk.id);
    ck_assert_mem_eq(b->signed_prekey.public_key, id->spk.public_key, SP_PUBKEY_LEN);
    ck_assert_mem_eq(b->signed_prekey.signature, id->spk.signature, SP_SIGNATURE_LEN);
}

struct worker {
    pthread_t th;
    const struct rc_identity *bob;
    struct rc_identity req[N_REQUESTERS_PER_THREAD];
    uint32_t ids[N_PREKEYS + 1];
    size_t n_ids;
    long bad_status; /* first unexpected HTTP status, 0 if none */
    int mismatch;    /* bundle content differed from Bob's keys */
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct rc_client c;
    bool done[N_REQUESTERS_PER_THREAD] = {false};
    size_t n_done = 0;
    if (rc_client_init(&c, g_relay.base_url, rh_cert_path()) != 0) {
        w->bad_status = -100;
        return NULL;
    }
    for (size_t turn = 0; n_done < N_REQUESTERS_PER_THREAD && turn < 10 * N_PREKEYS; turn++) {
        size_t k = turn % N_REQUESTERS_PER_THREAD;
        struct wire_bundle b;
        if (done[k])
            continue;
        memset(&b, 0, sizeof b);
        long st = rc_bundle(&c, &w->req[k], w->bob->address_text, &b, NULL);
        if (st != 200) {
            w->bad_status = st;
            break;
        }
        if (memcmp(b.identity_key, w->bob->identity_key, SP_PUBKEY_LEN) != 0)
            w->mismatch = 1;
        if (b.has_prekey) {
            if (w->n_ids <= N_PREKEYS)
                w->ids[w->n_ids++] = b.prekey.id;
        } else {
            done[k] = true;
            n_done++;
        }
    }
    rc_client_free(&c);
    return NULL;
}

START_TEST(test_bundle_concurrent_exactly_once)
{
    struct rc_client c;
    struct rc_identity bob;
    struct worker *w = calloc(N_THREADS, sizeof *w);
    uint32_t count = 0;
    ck_assert_ptr_nonnull(w);
    rh_client(&c, &g_relay);
    rh_account(&c, &bob, 0);
    ck_assert_int_eq(rc_upload_prekeys(&c, &bob, N_PREKEYS, &count), 200);
    ck_assert_uint_eq(count, N_PREKEYS);
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), N_PREKEYS);

    for (int t = 0; t < N_THREADS; t++) {
        w[t].bob = &bob;
        for (int k = 0; k < N_REQUESTERS_PER_THREAD; k++)
            rh_account(&c, &w[t].req[k], 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        ck_assert_int_eq(pthread_create(&w[t].th, NULL, worker_main, &w[t]), 0);
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(w[t].th, NULL);

    unsigned seen[N_PREKEYS + 1] = {0};
    size_t total = 0;
    for (int t = 0; t < N_THREADS; t++) {
        ck_assert_msg(w[t].bad_status == 0, "thread %d: bundle answered HTTP %ld", t,
                      w[t].bad_status);
        ck_assert_msg(w[t].mismatch == 0, "thread %d: bundle with another identity key", t);
        for (size_t i = 0; i < w[t].n_ids; i++) {
            uint32_t id = w[t].ids[i];
            ck_assert_msg(id >= 1 && id <= N_PREKEYS, "prekey id %u never uploaded", id);
            seen[id]++;
            total++;
        }
    }
    for (uint32_t id = 1; id <= N_PREKEYS; id++)
        ck_assert_msg(seen[id] == 1, "prekey %u handed out %u times", id, seen[id]);
    ck_assert_uint_eq(total, N_PREKEYS);

    /* Exhausted: bundles still come, with the signed prekey only. */
    struct wire_bundle b;
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(rc_bundle(&c, &w[0].req[0], bob.address_text, &b, NULL), 200);
    ck_assert(!b.has_prekey);
    assert_bundle_is(&b, &bob);
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), 0);

    /* A refill is handed out again, oldest first. */
    ck_assert_int_eq(rc_upload_prekeys(&c, &bob, 2, &count), 200);
    ck_assert_uint_eq(count, 2);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(rc_bundle(&c, &w[1].req[0], bob.address_text, &b, NULL), 200);
    ck_assert(b.has_prekey);
    ck_assert_uint_eq(b.prekey.id, N_PREKEYS + 1);
    assert_bundle_is(&b, &bob);

    for (int t = 0; t < N_THREADS; t++)
        for (int k = 0; k < N_REQUESTERS_PER_THREAD; k++)
            rc_identity_free(&w[t].req[k]);
    free(w);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_bundle_unknown_target)
{
    struct rc_client c;
    struct rc_identity alice, ghost;
    struct rc_response r;
    struct wire_error e;
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    ck_assert_int_eq(rc_identity_new(&ghost), 0);
    rc_response_init(&r);
    ck_assert_int_eq(rc_bundle(&c, &alice, ghost.address_text, NULL, &r), 404);
    ck_assert_int_eq(rc_error_code(&r, &e), SP_ERR_NOT_FOUND);
    /* Without a token: 401. */
    ck_assert_int_eq(rc_request(&c, &r, "GET", "/v1/bundle/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
                                NULL, 0, NULL, NULL), CURLE_OK);
    ck_assert_int_eq(r.status, 401);
    ck_assert_int_eq(rc_error_code(&r, &e), SP_ERR_UNAUTHENTICATED);
    rc_response_free(&r);
    rc_identity_free(&alice);
    rc_identity_free(&ghost);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_bundle_rate_limit)
{
    struct rc_client c;
    struct rc_identity alice, carol, bob, dave;
    struct rc_response r;
    struct wire_error e;
    struct wire_bundle b;
    rh_client(&c, &g_relay);
    rh_account(&c, &bob, 10);
    rh_account(&c, &dave, 1);
    rh_account(&c, &alice, 0);
    rh_account(&c, &carol, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(rc_bundle(&c, &alice, bob.address_text, NULL, NULL), 200);
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), 7);

    rc_response_init(&r);
    ck_assert_int_eq(rc_bundle(&c, &alice, bob.address_text, NULL, &r), 429);
    ck_assert_msg(r.has_retry_after, "429 without a Retry-After header");
    ck_assert_uint_gt(r.retry_after, 0);
    ck_assert_uint_le(r.retry_after, 3600);
    ck_assert_int_eq(rc_error_code(&r, &e), SP_ERR_RATE_LIMITED);
    ck_assert_uint_gt(e.retry_after_s, 0);
    ck_assert(e.has_remaining);
    ck_assert_uint_eq(e.remaining, 0);
    /* The refused fetch took nothing. */
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), 7);

    /* The limit is per (requester, target): others are unaffected. */
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(rc_bundle(&c, &carol, bob.address_text, &b, NULL), 200);
    ck_assert(b.has_prekey);
    ck_assert_uint_eq(b.prekey.id, 4); /* oldest first: 1..3 went to alice */
    ck_assert_int_eq(rc_bundle(&c, &alice, dave.address_text, NULL, NULL), 200);
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), 6);

    rc_response_free(&r);
    rc_identity_free(&alice);
    rc_identity_free(&carol);
    rc_identity_free(&bob);
    rc_identity_free(&dave);
    rc_client_free(&c);
}
END_TEST

static Suite *bundle_suite(void)
{
    Suite *s = suite_create("integration_bundle");
    TCase *tc = tcase_create("exhaust");
    tcase_add_unchecked_fixture(tc, exhaust_setup, relay_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bundle_concurrent_exactly_once);
    tcase_add_test(tc, test_bundle_unknown_target);
    suite_add_tcase(s, tc);
    tc = tcase_create("ratelimit");
    tcase_add_unchecked_fixture(tc, ratelimit_setup, relay_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bundle_rate_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(bundle_suite());
    rh_global_cleanup();
    return rc;
}
