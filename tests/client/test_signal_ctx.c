/*
 * test_signal_ctx.c: the libsignal context helper: creation, recursive lock,
 * identity generation, XEdDSA sign/verify (including libsignal's traps),
 * and the log sanitiser.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include "client/signal_ctx.h"
#include "testutil.h"

static struct signal_ctx *sc;

static void setup(void)
{
    ck_assert_int_eq(signal_ctx_new(&sc), SP_OK);
    ck_assert_ptr_nonnull(sc);
    ck_assert_ptr_nonnull(signal_ctx_get(sc));
}

static void teardown(void)
{
    signal_ctx_free(sc);
    sc = NULL;
}

START_TEST(free_null_is_noop)
{
    signal_ctx_free(NULL);
}
END_TEST

START_TEST(lock_is_recursive)
{
    signal_ctx_lock(sc);
    signal_ctx_lock(sc);
    signal_ctx_unlock(sc);
    signal_ctx_unlock(sc);
}
END_TEST

START_TEST(identity_generate_formats)
{
    uint8_t pub1[SP_PUBKEY_LEN], priv1[SP_PRIVKEY_LEN];
    uint8_t pub2[SP_PUBKEY_LEN], priv2[SP_PRIVKEY_LEN];
    ec_public_key *k = NULL;
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub1, priv1), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub2, priv2), SP_OK);
    ck_assert_uint_eq(pub1[0], SP_PUBKEY_TYPE);
    ck_assert_uint_eq(pub2[0], SP_PUBKEY_TYPE);
    ck_assert_mem_ne(pub1, pub2, SP_PUBKEY_LEN);
    ck_assert_mem_ne(priv1, priv2, SP_PRIVKEY_LEN);
    /* libsignal private keys are clamped X25519 scalars */
    ck_assert_uint_eq(priv1[0] & 7, 0);
    ck_assert_uint_eq(priv1[31] & 0x80, 0);
    ck_assert_uint_eq(priv1[31] & 0x40, 0x40);
    /* the public key round-trips through libsignal's decoder */
    ck_assert_int_eq(curve_decode_point(&k, pub1, SP_PUBKEY_LEN, signal_ctx_get(sc)), 0);
    SIGNAL_UNREF(k);
}
END_TEST

START_TEST(sign_verify_roundtrip_and_randomised)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[SP_PRIVKEY_LEN];
    uint8_t s1[SP_SIGNATURE_LEN], s2[SP_SIGNATURE_LEN];
    static const uint8_t msg[] = "sealpost/v1/token\0some payload bytes";
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub, priv), SP_OK);
    ck_assert_int_eq(signal_ctx_sign(sc, s1, priv, msg, sizeof msg), SP_OK);
    ck_assert_int_eq(signal_ctx_sign(sc, s2, priv, msg, sizeof msg), SP_OK);
    ck_assert_mem_ne(s1, s2, SP_SIGNATURE_LEN);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, s1, sizeof s1), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, s2, sizeof s2), SP_OK);
    /* empty message */
    ck_assert_int_eq(signal_ctx_sign(sc, s1, priv, NULL, 0), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, NULL, 0, s1, sizeof s1), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, 1, s1, sizeof s1), SP_ERR_BAD_SIGNATURE);
    /* signing the 33-byte public key, as signed prekeys do */
    ck_assert_int_eq(signal_ctx_sign(sc, s1, priv, pub, sizeof pub), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, pub, sizeof pub, s1, sizeof s1), SP_OK);
}
END_TEST

START_TEST(verify_rejects_everything_wrong)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[SP_PRIVKEY_LEN];
    uint8_t pub2[SP_PUBKEY_LEN], priv2[SP_PRIVKEY_LEN];
    uint8_t sig[SP_SIGNATURE_LEN + 1];
    uint8_t msg[100];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub, priv), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub2, priv2), SP_OK);
    ck_assert_int_eq(signal_ctx_sign(sc, sig, priv, msg, sizeof msg), SP_OK);
    sig[SP_SIGNATURE_LEN] = 0;

    /* every single-bit flip of the message */
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] ^= 0x01;
        ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, SP_SIGNATURE_LEN),
                         SP_ERR_BAD_SIGNATURE);
        msg[i] ^= 0x01;
    }
    /* a byte of the signature */
    for (size_t i = 0; i < SP_SIGNATURE_LEN; i += 9) {
        sig[i] ^= 0x40;
        ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, SP_SIGNATURE_LEN),
                         SP_ERR_BAD_SIGNATURE);
        sig[i] ^= 0x40;
    }
    /* truncated message */
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg - 1, sig, SP_SIGNATURE_LEN),
                     SP_ERR_BAD_SIGNATURE);
    /* other key */
    ck_assert_int_eq(signal_ctx_verify(sc, pub2, msg, sizeof msg, sig, SP_SIGNATURE_LEN),
                     SP_ERR_BAD_SIGNATURE);
    /* wrong signature lengths (libsignal returns -22 for these) */
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, 0), SP_ERR_BAD_SIGNATURE);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, 63),
                     SP_ERR_BAD_SIGNATURE);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, 65),
                     SP_ERR_BAD_SIGNATURE);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, NULL, 64),
                     SP_ERR_BAD_SIGNATURE);
    /* a key without the 0x05 type byte does not decode */
    pub[0] = 0x04;
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, SP_SIGNATURE_LEN),
                     SP_ERR_INVALID_FIELD);
    pub[0] = SP_PUBKEY_TYPE;
    /* still valid after all that */
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, SP_SIGNATURE_LEN), SP_OK);
}
END_TEST

START_TEST(two_contexts_independent)
{
    struct signal_ctx *other = NULL;
    uint8_t pub[SP_PUBKEY_LEN], priv[SP_PRIVKEY_LEN], sig[SP_SIGNATURE_LEN];
    static const uint8_t msg[] = "cross";
    ck_assert_int_eq(signal_ctx_new(&other), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub, priv), SP_OK);
    ck_assert_int_eq(signal_ctx_sign(other, sig, priv, msg, sizeof msg), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, sizeof sig), SP_OK);
    signal_ctx_free(other);
}
END_TEST

struct sign_worker {
    struct signal_ctx *sc;
    int ok;
};

static void *sign_thread(void *arg)
{
    struct sign_worker *w = arg;
    uint8_t pub[SP_PUBKEY_LEN], priv[SP_PRIVKEY_LEN], sig[SP_SIGNATURE_LEN];
    uint8_t msg[32] = {0};
    w->ok = signal_ctx_identity_generate(w->sc, pub, priv) == SP_OK;
    for (int i = 0; i < 100 && w->ok; i++) {
        msg[0] = (uint8_t)i;
        w->ok = signal_ctx_sign(w->sc, sig, priv, msg, sizeof msg) == SP_OK &&
                signal_ctx_verify(w->sc, pub, msg, sizeof msg, sig, sizeof sig) == SP_OK;
    }
    return NULL;
}

START_TEST(concurrent_sign_verify_one_context)
{
    pthread_t th[4];
    struct sign_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i].sc = sc;
        ck_assert_int_eq(pthread_create(&th[i], NULL, sign_thread, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].ok, 1);
    }
}
END_TEST

START_TEST(log_sanitiser_drops_names)
{
    char out[64];
    const char *m = "No session for: 7k3xq2abcdefghijklmnopqrstuvwxyz:1";
    signal_ctx_sanitize_log(out, sizeof out, m, strlen(m));
    ck_assert_str_eq(out, "No session for");
    m = "Message mac not verified";
    signal_ctx_sanitize_log(out, sizeof out, m, strlen(m));
    ck_assert_str_eq(out, m);
    /* length respected (message not NUL-terminated at len) */
    signal_ctx_sanitize_log(out, sizeof out, m, 7);
    ck_assert_str_eq(out, "Message");
    /* control bytes stop the copy */
    m = "abc\ndef";
    signal_ctx_sanitize_log(out, sizeof out, m, strlen(m));
    ck_assert_str_eq(out, "abc");
    /* output bound */
    signal_ctx_sanitize_log(out, 4, "abcdefgh", 8);
    ck_assert_str_eq(out, "abc");
    signal_ctx_sanitize_log(out, sizeof out, NULL, 0);
    ck_assert_str_eq(out, "");
}
END_TEST

static Suite *signal_ctx_suite(void)
{
    Suite *s = suite_create("signal_ctx");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, free_null_is_noop);
    tcase_add_test(tc, lock_is_recursive);
    tcase_add_test(tc, identity_generate_formats);
    tcase_add_test(tc, sign_verify_roundtrip_and_randomised);
    tcase_add_test(tc, verify_rejects_everything_wrong);
    tcase_add_test(tc, two_contexts_independent);
    tcase_add_test(tc, concurrent_sign_verify_one_context);
    tcase_add_test(tc, log_sanitiser_drops_names);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(signal_ctx_suite());
}
