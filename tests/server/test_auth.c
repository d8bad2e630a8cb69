/*
 * test_auth.c: server/api/auth: signature verification against real
 * libsignal keys (forged, altered, other key, wrong length, wrong key type,
 * S+L malleation), the proof window, replay keys, bearer parsing and the
 * token lookup with its cache against a real store and a moving clock.
 */
#include <signal/signal_protocol.h>
#include <signal/curve.h>

#include "api_fixture.h"
#include "server/api/auth.h"

struct keys {
    struct signal_ctx *sig;
    struct ident a, b;
};

static void keys_new(struct keys *k)
{
    struct fx f; /* only for ident_new's signal_ctx */
    memset(k, 0, sizeof *k);
    ck_assert_int_eq(signal_ctx_new(&k->sig), SP_OK);
    f.sig = k->sig;
    ident_new(&f, &k->a);
    ident_new(&f, &k->b);
}

static void sign(struct keys *k, const struct ident *id, uint8_t sig[64], const uint8_t *m,
                 size_t n)
{
    ck_assert_int_eq(signal_ctx_sign(k->sig, sig, id->priv, m, n), SP_OK);
}

static void add_l(uint8_t sig[static 64])
{
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    uint8_t sign_bit = sig[63] & 0x80;
    unsigned carry = 0;
    sig[63] &= 0x7f;
    for (int i = 0; i < 32; i++) {
        unsigned v = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    sig[63] |= sign_bit;
}

static int raw_verify(const uint8_t pub[33], const uint8_t *m, size_t n, const uint8_t *sig,
                      size_t sig_len)
{
    ec_public_key *k = NULL;
    ck_assert_int_eq(curve_decode_point(&k, pub, 33, NULL), 0);
    int rc = curve_verify_signature(k, m, n, sig, sig_len);
    SIGNAL_UNREF(k);
    return rc;
}

START_TEST(test_signature_checks)
{
    struct keys k;
    uint8_t msg[300], sig[64], bad[64];
    keys_new(&k);
    ck_assert_int_eq(sp_random(msg, sizeof msg), SP_OK);
    sign(&k, &k.a, sig, msg, sizeof msg);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, sig, 64), SP_OK);

    /* altered message, every bit position class of the signature */
    msg[17] ^= 0x40;
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, sig, 64),
                     SP_ERR_BAD_SIGNATURE);
    msg[17] ^= 0x40;
    for (int i = 0; i < 64; i += 9) {
        memcpy(bad, sig, 64);
        bad[i] ^= 0x01;
        ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, bad, 64),
                         SP_ERR_BAD_SIGNATURE);
    }
    /* all zero, all 0xff (forgeries) */
    memset(bad, 0, 64);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, bad, 64),
                     SP_ERR_BAD_SIGNATURE);
    memset(bad, 0xff, 64);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, bad, 64),
                     SP_ERR_BAD_SIGNATURE);
    /* the other identity's key */
    ck_assert_int_eq(auth_verify_signature(k.b.pub, msg, sizeof msg, sig, 64),
                     SP_ERR_BAD_SIGNATURE);
    /* 63 and 65 bytes: libsignal returns -22, which must not count as valid */
    ck_assert_int_eq(raw_verify(k.a.pub, msg, sizeof msg, sig, 63), SG_ERR_INVAL);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, sig, 63),
                     SP_ERR_BAD_SIGNATURE);
    uint8_t sig65[65];
    memcpy(sig65, sig, 64);
    sig65[64] = 0;
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, sig65, 65),
                     SP_ERR_BAD_SIGNATURE);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, NULL, 0),
                     SP_ERR_BAD_SIGNATURE);
    /* a key without the 0x05 type byte */
    uint8_t pub[33];
    memcpy(pub, k.a.pub, 33);
    pub[0] = 0x04;
    ck_assert_int_eq(auth_verify_signature(pub, msg, sizeof msg, sig, 64), SP_ERR_BAD_SIGNATURE);

    /* S+L: libsignal accepts it (why the replay key never uses signature
     * bytes); auth_verify_signature insists on canonical S and rejects it */
    memcpy(bad, sig, 64);
    add_l(bad);
    ck_assert(memcmp(bad, sig, 64) != 0);
    ck_assert_int_eq(raw_verify(k.a.pub, msg, sizeof msg, bad, 64), 1);
    ck_assert_int_eq(auth_verify_signature(k.a.pub, msg, sizeof msg, bad, 64),
                     SP_ERR_BAD_SIGNATURE);
    /* canonical signatures from the real signer always pass: many samples */
    for (int i = 0; i < 200; i++) {
        sign(&k, &k.b, sig, msg, 64);
        ck_assert_int_eq(auth_verify_signature(k.b.pub, msg, 64, sig, 64), SP_OK);
    }
    sp_wipe(k.a.priv, sizeof k.a.priv);
    sp_wipe(k.b.priv, sizeof k.b.priv);
    signal_ctx_free(k.sig);
}
END_TEST

START_TEST(test_proof_domain)
{
    struct keys k;
    uint8_t payload[40], sig[64];
    struct buf m;
    keys_new(&k);
    ck_assert_int_eq(sp_random(payload, sizeof payload), SP_OK);
    buf_init(&m, 1024);
    ck_assert_int_eq(sp_proof_message(&m, SP_DOMAIN_TOKEN, payload, sizeof payload), SP_OK);
    sign(&k, &k.a, sig, m.data, m.len);
    ck_assert_int_eq(auth_verify_proof(k.a.pub, SP_DOMAIN_TOKEN, payload, sizeof payload, sig),
                     SP_OK);
    ck_assert_int_eq(auth_verify_proof(k.a.pub, SP_DOMAIN_REGISTER, payload, sizeof payload, sig),
                     SP_ERR_BAD_SIGNATURE);
    /* signature over the bare payload (no domain) is not a proof */
    sign(&k, &k.a, sig, payload, sizeof payload);
    ck_assert_int_eq(auth_verify_proof(k.a.pub, SP_DOMAIN_TOKEN, payload, sizeof payload, sig),
                     SP_ERR_BAD_SIGNATURE);
    buf_free(&m);
    signal_ctx_free(k.sig);
}
END_TEST

START_TEST(test_window_and_replay_key)
{
    ck_assert_int_eq(auth_check_window(1000, 1000, 300), SP_OK);
    ck_assert_int_eq(auth_check_window(700, 1000, 300), SP_OK);
    ck_assert_int_eq(auth_check_window(1300, 1000, 300), SP_OK);
    ck_assert_int_eq(auth_check_window(699, 1000, 300), SP_ERR_STALE_PROOF);
    ck_assert_int_eq(auth_check_window(1301, 1000, 300), SP_ERR_STALE_PROOF);
    ck_assert_int_eq(auth_check_window(0, UINT64_MAX, 300), SP_ERR_STALE_PROOF);
    ck_assert_int_eq(auth_check_window(UINT64_MAX, 0, 300), SP_ERR_STALE_PROOF);

    uint8_t addr[20] = {1}, nonce[16] = {2}, k1[32], k2[32], k3[32], k4[32], want[32];
    ck_assert_int_eq(auth_replay_key(k1, SP_DOMAIN_TOKEN, addr, nonce), SP_OK);
    ck_assert_int_eq(auth_replay_key(k2, SP_DOMAIN_REGISTER, addr, nonce), SP_OK);
    nonce[15] = 1;
    ck_assert_int_eq(auth_replay_key(k3, SP_DOMAIN_TOKEN, addr, nonce), SP_OK);
    addr[19] = 1;
    ck_assert_int_eq(auth_replay_key(k4, SP_DOMAIN_TOKEN, addr, nonce), SP_OK);
    ck_assert(memcmp(k1, k2, 32) != 0 && memcmp(k1, k3, 32) != 0 && memcmp(k3, k4, 32) != 0);
    /* definition: SHA-256("sealpost/v1/token" || 0 || address || nonce) */
    uint8_t tail[36];
    memcpy(tail, addr, 20);
    memcpy(tail + 20, nonce, 16);
    ck_assert_int_eq(sp_sha256(want, (const uint8_t *)"sealpost/v1/token\0", 18, tail, 36), SP_OK);
    ck_assert(memcmp(want, k4, 32) == 0);
}
END_TEST

START_TEST(test_bearer_parse)
{
    uint8_t token[32], hash[32], want[32], got[32];
    char header[64] = "Bearer ";
    for (int i = 0; i < 32; i++)
        token[i] = (uint8_t)i;
    ck_assert_int_eq(base64url_encode(header + 7, sizeof header - 7, token, 32), SP_OK);
    ck_assert_str_eq(header + 7, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"); /* PROTOCOL A.3 */
    ck_assert_int_eq(sp_sha256(want, token, 32, NULL, 0), SP_OK);
    ck_assert_int_eq(auth_bearer_hash(hash, header), SP_OK);
    ck_assert(memcmp(hash, want, 32) == 0);
    ck_assert_int_eq(auth_bearer_hash(got, "BEARER AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
                     SP_OK);
    ck_assert(memcmp(got, want, 32) == 0);

    const char *bad[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Bearer  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "Bearer AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 ",
        "Bearer AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "Bearer AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
        "Bearer AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9", /* non-zero trailing bits */
        "Bearer AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd+h8", /* base64, not base64url */
        "Basic AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "Bearer\tAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(auth_bearer_hash(got, bad[i]) == SP_ERR_UNAUTHENTICATED, "accepted %s",
                      bad[i] ? bad[i] : "(null)");
}
END_TEST

/* Token lookup through the cache: a cached token stops working exactly at
 * its expiry, like an uncached one. */
START_TEST(test_token_lookup_and_cache)
{
    char *dir = tu_tmpdir("auth-tok");
    char *path = tu_path(dir, "relay.db");
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct auth *a = NULL, *nocache = NULL;
    struct store_options o = {
        .path = path, .sync = STORE_SYNC_NORMAL, .pool_size = 2, .busy_timeout_ms = 5000};
    ck_assert_int_eq(store_open(&s, &o), SP_OK);
    ck_assert_int_eq(auth_create(&a, 64), SP_OK);
    ck_assert_int_eq(auth_create(&nocache, 0), SP_OK);

    /* an account to own the token */
    struct keys k;
    keys_new(&k);
    struct wire_register reg = {.registration_id = 1, .device_id = 1};
    memcpy(reg.identity_key, k.a.pub, 33);
    reg.signed_prekey.id = 1;
    memcpy(reg.signed_prekey.public_key, k.b.pub, 33);
    bool created;
    int64_t account = 0;
    ck_assert_int_eq(store_conn_get(s, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    ck_assert_int_eq(store_account_register(c, &reg, k.a.address, FX_T0, 100, &created, &account),
                     SP_OK);
    uint8_t token[32], hash[32];
    ck_assert_int_eq(auth_token_new(token, hash), SP_OK);
    uint64_t expires = store_hour_ceil(FX_T0 + 3600);
    ck_assert_int_eq(store_token_put(c, hash, account, expires), SP_OK);
    ck_assert_int_eq(store_commit(c), SP_OK);
    store_conn_put(s, c);

    char header[64] = "Bearer ";
    ck_assert_int_eq(base64url_encode(header + 7, sizeof header - 7, token, 32), SP_OK);
    int64_t who = 0;
    int why = -1;
    struct auth *both[2] = {a, nocache};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++) {
            who = 0;
            ck_assert_int_eq(auth_bearer(both[i], s, header, FX_T0, &who, &why), SP_OK);
            ck_assert_int_eq(who, account);
            ck_assert_int_eq(auth_bearer(both[i], s, header, expires - 1, &who, NULL), SP_OK);
            ck_assert_int_eq(auth_bearer(both[i], s, header, expires, &who, &why),
                             SP_ERR_UNAUTHENTICATED);
            ck_assert_int_eq(why, 1);
        }
    }
    /* unknown token, malformed header */
    uint8_t other[32], other_hash[32];
    char h2[64] = "Bearer ";
    ck_assert_int_eq(auth_token_new(other, other_hash), SP_OK);
    ck_assert_int_eq(base64url_encode(h2 + 7, sizeof h2 - 7, other, 32), SP_OK);
    ck_assert_int_eq(auth_bearer(a, s, h2, FX_T0, &who, &why), SP_ERR_UNAUTHENTICATED);
    ck_assert_int_eq(why, 1);
    ck_assert_int_eq(auth_bearer(a, s, "Bearer x", FX_T0, &who, &why), SP_ERR_UNAUTHENTICATED);
    ck_assert_int_eq(why, 0);

    auth_destroy(a);
    auth_destroy(nocache);
    auth_destroy(NULL);
    store_close(s);
    signal_ctx_free(k.sig);
    tu_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_signature_checks);
    tcase_add_test(tc, test_proof_domain);
    tcase_add_test(tc, test_window_and_replay_key);
    tcase_add_test(tc, test_bearer_parse);
    tcase_add_test(tc, test_token_lookup_and_cache);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(auth_suite());
}
