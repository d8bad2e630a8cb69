/*
 * test_crypto_provider.c: known-answer tests for the OpenSSL provider
 * libsignal calls (RFC 4231, FIPS 180-4, NIST SP 800-38A, RFC 5869 through
 * libsignal's own HKDF), its failure paths, and that libsignal accepts it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/hkdf.h>
#include <signal/signal_protocol.h>

#include "client/crypto_provider.h"
#include "client/signal_ctx.h"
#include "testutil.h"

static struct crypto_provider *prov;
static signal_crypto_provider tab;

static void setup(void)
{
    ck_assert_int_eq(crypto_provider_new(&prov), SP_OK);
    crypto_provider_fill(prov, &tab);
}

static void teardown(void)
{
    crypto_provider_free(prov);
    prov = NULL;
}

/* Decode a hex string (whitespace ignored) into a malloc'd buffer. */
static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = 0, cap = strlen(hex) / 2 + 1;
    uint8_t *out = malloc(cap);
    int hi = -1;
    ck_assert_ptr_nonnull(out);
    for (const char *s = hex; *s != '\0'; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    ck_assert_int_eq(hi, -1);
    *len = n;
    return out;
}

static void assert_buf_hex(const signal_buffer *b, const char *hex)
{
    size_t n;
    uint8_t *want = unhex(hex, &n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(signal_buffer_len(b), n);
    ck_assert_mem_eq(signal_buffer_const_data(b), want, n);
    free(want);
}

static signal_buffer *hmac_once(const uint8_t *key, size_t key_len, const uint8_t *msg,
                                size_t len, size_t chunk)
{
    void *ctx = (void *)&tab; /* garbage the init must overwrite */
    signal_buffer *out = NULL;
    ck_assert_int_eq(tab.hmac_sha256_init_func(&ctx, key, key_len, tab.user_data), 0);
    ck_assert_ptr_nonnull(ctx);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk;
        ck_assert_int_eq(tab.hmac_sha256_update_func(ctx, msg + off, n, tab.user_data), 0);
        off += n;
    }
    ck_assert_int_eq(tab.hmac_sha256_final_func(ctx, &out, tab.user_data), 0);
    tab.hmac_sha256_cleanup_func(ctx, tab.user_data);
    return out;
}

/* ---- HMAC-SHA256, RFC 4231 section 4 */

struct hmac_kat {
    const char *key;  /* hex */
    const char *data; /* hex */
    const char *mac;  /* hex */
};

static uint8_t *repeat(uint8_t byte, size_t n)
{
    uint8_t *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    memset(p, byte, n);
    return p;
}

static void check_hmac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                       const char *mac_hex)
{
    static const size_t chunks[] = {1, 7, 64, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        signal_buffer *out = hmac_once(key, key_len, data, len, chunks[i]);
        assert_buf_hex(out, mac_hex);
        signal_buffer_free(out);
    }
}

START_TEST(hmac_rfc4231_1)
{
    uint8_t *key = repeat(0x0b, 20);
    check_hmac(key, 20, (const uint8_t *)"Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    free(key);
}
END_TEST

START_TEST(hmac_rfc4231_2)
{
    const char *data = "what do ya want for nothing?";
    check_hmac((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(hmac_rfc4231_3)
{
    uint8_t *key = repeat(0xaa, 20), *data = repeat(0xdd, 50);
    check_hmac(key, 20, data, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    free(key);
    free(data);
}
END_TEST

START_TEST(hmac_rfc4231_4)
{
    size_t key_len;
    uint8_t *key = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819", &key_len);
    uint8_t *data = repeat(0xcd, 50);
    ck_assert_uint_eq(key_len, 25);
    check_hmac(key, key_len, data, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    free(key);
    free(data);
}
END_TEST

START_TEST(hmac_rfc4231_6_long_key)
{
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    uint8_t *key = repeat(0xaa, 131);
    check_hmac(key, 131, (const uint8_t *)data, strlen(data),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    free(key);
}
END_TEST

START_TEST(hmac_rfc4231_7_long_key_long_data)
{
    const char *data = "This is a test using a larger than block-size key and a larger than "
                       "block-size data. The key needs to be hashed before being used by the "
                       "HMAC algorithm.";
    uint8_t *key = repeat(0xaa, 131);
    check_hmac(key, 131, (const uint8_t *)data, strlen(data),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    free(key);
}
END_TEST

START_TEST(hmac_empty_key)
{
    /* HMAC-SHA256(key = "", msg = "") is a fixed, well-known value; a NULL key
     * must behave like an empty one (OpenSSL's EVP_MAC_init rejects NULL). */
    static const char *want =
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
    static const uint8_t nothing[1] = {0};
    check_hmac(NULL, 0, NULL, 0, want);
    check_hmac(nothing, 0, nothing, 0, want);
}
END_TEST

START_TEST(hmac_init_failure_leaves_null_and_cleanup_null_safe)
{
    void *ctx = (void *)&tab;
    ck_assert_int_lt(tab.hmac_sha256_init_func(&ctx, NULL, 5, tab.user_data), 0);
    ck_assert_ptr_null(ctx);
    tab.hmac_sha256_cleanup_func(NULL, tab.user_data);
    tab.sha512_digest_cleanup_func(NULL, tab.user_data);
    /* cleanup without final (libsignal does this on error paths) */
    ck_assert_int_eq(tab.hmac_sha256_init_func(&ctx, (const uint8_t *)"k", 1, tab.user_data),
                     0);
    ck_assert_int_eq(tab.hmac_sha256_update_func(ctx, (const uint8_t *)"x", 1, tab.user_data),
                     0);
    tab.hmac_sha256_cleanup_func(ctx, tab.user_data);
}
END_TEST

/* ---- SHA-512, FIPS 180-4 examples */

static void check_sha512(void *ctx, const char *msg, size_t reps, const char *want)
{
    signal_buffer *out = NULL;
    for (size_t i = 0; i < reps; i++)
        ck_assert_int_eq(tab.sha512_digest_update_func(ctx, (const uint8_t *)msg, strlen(msg),
                                                       tab.user_data),
                         0);
    ck_assert_int_eq(tab.sha512_digest_final_func(ctx, &out, tab.user_data), 0);
    assert_buf_hex(out, want);
    signal_buffer_free(out);
}

#define SHA512_ABC                                                                             \
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"                         \
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_EMPTY                                                                           \
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"                         \
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_448                                                                             \
    "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"                         \
    "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"
#define SHA512_896                                                                             \
    "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"                         \
    "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"
#define MSG_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define MSG_896                                                                                \
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"                         \
    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"

START_TEST(sha512_fips180_vectors_and_reuse)
{
    void *ctx = (void *)&tab;
    ck_assert_int_eq(tab.sha512_digest_init_func(&ctx, tab.user_data), 0);
    ck_assert_ptr_nonnull(ctx);
    /* One context for everything: final must re-initialise it. */
    check_sha512(ctx, "abc", 1, SHA512_ABC);
    check_sha512(ctx, "abc", 1, SHA512_ABC);
    check_sha512(ctx, "", 1, SHA512_EMPTY);
    check_sha512(ctx, MSG_448, 1, SHA512_448);
    check_sha512(ctx, MSG_896, 1, SHA512_896);
    check_sha512(ctx, "", 0, SHA512_EMPTY); /* final right after final */
    tab.sha512_digest_cleanup_func(ctx, tab.user_data);
}
END_TEST

/* ---- AES, NIST SP 800-38A */

#define AES256_KEY "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
#define NIST_PT                                                                                \
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"                         \
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
#define CBC_IV "000102030405060708090a0b0c0d0e0f"
#define CBC_CT                                                                                 \
    "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"                         \
    "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"
#define CTR_IV "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define CTR_CT                                                                                 \
    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"                         \
    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"

START_TEST(aes256_cbc_sp800_38a_f25_f26)
{
    size_t kl, il, pl, cl;
    uint8_t *key = unhex(AES256_KEY, &kl), *iv = unhex(CBC_IV, &il);
    uint8_t *pt = unhex(NIST_PT, &pl), *ct = unhex(CBC_CT, &cl);
    signal_buffer *enc = NULL, *dec = NULL;

    /* F.2.5: the first 64 bytes are the vector; PKCS#5 adds one full block. */
    ck_assert_int_eq(tab.encrypt_func(&enc, SG_CIPHER_AES_CBC_PKCS5, key, kl, iv, il, pt, pl,
                                      tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(enc), 80);
    ck_assert_mem_eq(signal_buffer_data(enc), ct, 64);
    /* F.2.6: the vector ciphertext (plus that padding block) decrypts to the
     * vector plaintext. */
    ck_assert_int_eq(tab.decrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, kl, iv, il,
                                      signal_buffer_data(enc), 80, tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(dec), 64);
    ck_assert_mem_eq(signal_buffer_data(dec), pt, 64);
    signal_buffer_free(enc);
    signal_buffer_free(dec);
    free(key);
    free(iv);
    free(pt);
    free(ct);
}
END_TEST

START_TEST(aes256_ctr_sp800_38a_f55_f56)
{
    size_t kl, il, pl, cl;
    uint8_t *key = unhex(AES256_KEY, &kl), *iv = unhex(CTR_IV, &il);
    uint8_t *pt = unhex(NIST_PT, &pl), *ct = unhex(CTR_CT, &cl);
    signal_buffer *enc = NULL, *dec = NULL;

    ck_assert_int_eq(tab.encrypt_func(&enc, SG_CIPHER_AES_CTR_NOPADDING, key, kl, iv, il, pt,
                                      pl, tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(enc), 64);
    ck_assert_mem_eq(signal_buffer_data(enc), ct, 64);
    ck_assert_int_eq(tab.decrypt_func(&dec, SG_CIPHER_AES_CTR_NOPADDING, key, kl, iv, il, ct,
                                      cl, tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(dec), 64);
    ck_assert_mem_eq(signal_buffer_data(dec), pt, 64);
    signal_buffer_free(enc);
    signal_buffer_free(dec);
    /* A partial final block: CTR is length-preserving. */
    ck_assert_int_eq(tab.encrypt_func(&enc, SG_CIPHER_AES_CTR_NOPADDING, key, kl, iv, il, pt,
                                      21, tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(enc), 21);
    ck_assert_mem_eq(signal_buffer_data(enc), ct, 21);
    signal_buffer_free(enc);
    free(key);
    free(iv);
    free(pt);
    free(ct);
}
END_TEST

START_TEST(aes_cbc_roundtrip_lengths)
{
    uint8_t key[32], iv[16], pt[40];
    for (size_t i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(tab.random_func(key, sizeof key, tab.user_data), 0);
    ck_assert_int_eq(tab.random_func(iv, sizeof iv, tab.user_data), 0);
    for (size_t klen = 16; klen <= 32; klen += 8) {
        for (size_t len = 0; len <= 40; len++) {
            signal_buffer *enc = NULL, *dec = NULL;
            ck_assert_int_eq(tab.encrypt_func(&enc, SG_CIPHER_AES_CBC_PKCS5, key, klen, iv, 16,
                                              pt, len, tab.user_data),
                             0);
            ck_assert_uint_eq(signal_buffer_len(enc), (len / 16 + 1) * 16);
            ck_assert_int_eq(tab.decrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, klen, iv, 16,
                                              signal_buffer_data(enc), signal_buffer_len(enc),
                                              tab.user_data),
                             0);
            ck_assert_uint_eq(signal_buffer_len(dec), len);
            if (len > 0)
                ck_assert_mem_eq(signal_buffer_data(dec), pt, len);
            signal_buffer_free(enc);
            signal_buffer_free(dec);
        }
    }
}
END_TEST

START_TEST(aes_cbc_bad_padding_and_bad_args)
{
    uint8_t key[32] = {1}, iv[16] = {2}, pt[16] = {3};
    signal_buffer *enc = NULL, *dec = NULL;
    uint8_t *ct;
    int bad = 0;

    ck_assert_int_eq(tab.encrypt_func(&enc, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, pt, 16,
                                      tab.user_data),
                     0);
    ck_assert_uint_eq(signal_buffer_len(enc), 32);
    ct = signal_buffer_data(enc);
    /* Flipping the last byte of the IV-block before the padding block turns
     * the padding byte 0x10 into something else; try every value so at least
     * the ones that are not valid padding are rejected. */
    for (int v = 1; v < 256; v++) {
        ct[15] ^= (uint8_t)v;
        dec = (signal_buffer *)&tab;
        int rc = tab.decrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, ct, 32,
                                  tab.user_data);
        if (rc < 0) {
            bad++;
            ck_assert_ptr_null(dec);
        } else {
            signal_buffer_free(dec);
        }
        ct[15] ^= (uint8_t)v;
    }
    /* Only 0x01 (when v = 0x11) can be valid padding: 254 of 255 fail. */
    ck_assert_int_eq(bad, 254);

    /* Truncated / misaligned ciphertext, empty CBC input. */
    ck_assert_int_lt(tab.decrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, ct, 31,
                                      tab.user_data),
                     0);
    ck_assert_int_lt(tab.decrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 16, ct, 0,
                                      tab.user_data),
                     0);
    /* Wrong key length, IV length, unknown cipher. */
    ck_assert_int_lt(tab.encrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, 31, iv, 16, pt, 16,
                                      tab.user_data),
                     0);
    ck_assert_int_lt(tab.encrypt_func(&dec, SG_CIPHER_AES_CBC_PKCS5, key, 32, iv, 12, pt, 16,
                                      tab.user_data),
                     0);
    ck_assert_int_lt(tab.encrypt_func(&dec, 3, key, 32, iv, 16, pt, 16, tab.user_data), 0);
    ck_assert_int_lt(tab.decrypt_func(&dec, 0, key, 32, iv, 16, ct, 32, tab.user_data), 0);
    ck_assert_ptr_null(dec);
    signal_buffer_free(enc);
}
END_TEST

START_TEST(random_fills_and_differs)
{
    uint8_t a[64], b[64], zero[64] = {0};
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    ck_assert_int_eq(tab.random_func(a, sizeof a, tab.user_data), 0);
    ck_assert_int_eq(tab.random_func(b, sizeof b, tab.user_data), 0);
    ck_assert_mem_ne(a, zero, sizeof a);
    ck_assert_mem_ne(b, zero, sizeof b);
    ck_assert_mem_ne(a, b, sizeof a);
    ck_assert_int_eq(tab.random_func(a, 0, tab.user_data), 0);
}
END_TEST

/* ---- concurrency: one provider, several threads */

struct worker {
    int ok;
};

static void *hmac_worker(void *arg)
{
    struct worker *w = arg;
    uint8_t *key = repeat(0xaa, 131);
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    size_t n;
    uint8_t *want = unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                          &n);
    w->ok = 1;
    for (int i = 0; i < 2000; i++) {
        void *ctx = NULL;
        signal_buffer *out = NULL;
        if (tab.hmac_sha256_init_func(&ctx, key, 131, tab.user_data) != 0 ||
            tab.hmac_sha256_update_func(ctx, (const uint8_t *)data, strlen(data),
                                        tab.user_data) != 0 ||
            tab.hmac_sha256_final_func(ctx, &out, tab.user_data) != 0 ||
            signal_buffer_len(out) != n || memcmp(signal_buffer_data(out), want, n) != 0)
            w->ok = 0;
        tab.hmac_sha256_cleanup_func(ctx, tab.user_data);
        signal_buffer_free(out);
    }
    free(key);
    free(want);
    return NULL;
}

START_TEST(threads_share_one_provider)
{
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hmac_worker, &w[i]), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].ok, 1);
    }
}
END_TEST

/* ---- libsignal accepts and uses the provider */

START_TEST(libsignal_accepts_provider)
{
    signal_context *ctx = NULL;
    signal_crypto_provider partial = tab;
    ck_assert_int_eq(signal_context_create(&ctx, NULL), 0);
    /* The library refuses a table without HMAC (so the check matters). */
    partial.hmac_sha256_final_func = NULL;
    ck_assert_int_eq(signal_context_set_crypto_provider(ctx, &partial), SG_ERR_INVAL);
    ck_assert_int_eq(signal_context_set_crypto_provider(ctx, &tab), 0);
    signal_context_destroy(ctx);
}
END_TEST

/* RFC 5869 through libsignal's HKDF (version 3 = RFC counter start), which
 * runs entirely on this provider's HMAC; test case 3 uses an empty salt, the
 * provider's empty-key path. */
START_TEST(libsignal_hkdf_rfc5869_on_provider)
{
    signal_context *ctx = NULL;
    hkdf_context *hkdf = NULL;
    uint8_t *okm = NULL;
    size_t sl, il, ikl;
    uint8_t *ikm = repeat(0x0b, 22);
    uint8_t *salt = unhex("000102030405060708090a0b0c", &sl);
    uint8_t *info = unhex("f0f1f2f3f4f5f6f7f8f9", &il);
    uint8_t *want1 = unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                           "34007208d5b887185865",
                           &ikl);
    size_t w3l;
    uint8_t *want3 = unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                           "9d201395faa4b61a96c8",
                           &w3l);

    ck_assert_int_eq(signal_context_create(&ctx, NULL), 0);
    ck_assert_int_eq(signal_context_set_crypto_provider(ctx, &tab), 0);
    ck_assert_int_eq(hkdf_create(&hkdf, 3, ctx), 0);
    ck_assert_int_eq(hkdf_derive_secrets(hkdf, &okm, ikm, 22, salt, sl, info, il, 42), 42);
    ck_assert_mem_eq(okm, want1, 42);
    free(okm);
    okm = NULL;
    ck_assert_int_eq(hkdf_derive_secrets(hkdf, &okm, ikm, 22, NULL, 0, NULL, 0, 42), 42);
    ck_assert_mem_eq(okm, want3, 42);
    free(okm);
    SIGNAL_UNREF(hkdf);
    signal_context_destroy(ctx);
    free(ikm);
    free(salt);
    free(info);
    free(want1);
    free(want3);
}
END_TEST

START_TEST(libsignal_signature_roundtrip_on_provider)
{
    struct signal_ctx *sc = NULL;
    uint8_t pub[SP_PUBKEY_LEN], priv[SP_PRIVKEY_LEN], sig[SP_SIGNATURE_LEN];
    uint8_t msg[] = "sealpost/v1/register\0payload";
    ec_public_key *key = NULL;

    ck_assert_int_eq(signal_ctx_new(&sc), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, pub, priv), SP_OK);
    ck_assert_int_eq(signal_ctx_sign(sc, sig, priv, msg, sizeof msg), SP_OK);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, sizeof sig), SP_OK);

    ck_assert_int_eq(curve_decode_point(&key, pub, sizeof pub, signal_ctx_get(sc)), 0);
    ck_assert_int_eq(curve_verify_signature(key, msg, sizeof msg, sig, 64), 1);
    msg[3] ^= 1; /* tampered message: library says 0, helper says BAD_SIGNATURE */
    ck_assert_int_eq(curve_verify_signature(key, msg, sizeof msg, sig, 64), 0);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, sizeof sig),
                     SP_ERR_BAD_SIGNATURE);
    msg[3] ^= 1;
    /* wrong length: library says -22 (truthy!), helper must still reject */
    ck_assert_int_eq(curve_verify_signature(key, msg, sizeof msg, sig, 63), SG_ERR_INVAL);
    ck_assert_int_eq(signal_ctx_verify(sc, pub, msg, sizeof msg, sig, 63),
                     SP_ERR_BAD_SIGNATURE);
    SIGNAL_UNREF(key);
    signal_ctx_free(sc);
}
END_TEST

static Suite *provider_suite(void)
{
    Suite *s = suite_create("crypto_provider");
    TCase *tc = tcase_create("kat");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hmac_rfc4231_1);
    tcase_add_test(tc, hmac_rfc4231_2);
    tcase_add_test(tc, hmac_rfc4231_3);
    tcase_add_test(tc, hmac_rfc4231_4);
    tcase_add_test(tc, hmac_rfc4231_6_long_key);
    tcase_add_test(tc, hmac_rfc4231_7_long_key_long_data);
    tcase_add_test(tc, hmac_empty_key);
    tcase_add_test(tc, hmac_init_failure_leaves_null_and_cleanup_null_safe);
    tcase_add_test(tc, sha512_fips180_vectors_and_reuse);
    tcase_add_test(tc, aes256_cbc_sp800_38a_f25_f26);
    tcase_add_test(tc, aes256_ctr_sp800_38a_f55_f56);
    tcase_add_test(tc, aes_cbc_roundtrip_lengths);
    tcase_add_test(tc, aes_cbc_bad_padding_and_bad_args);
    tcase_add_test(tc, random_fills_and_differs);
    tcase_add_test(tc, threads_share_one_provider);
    tcase_add_test(tc, libsignal_accepts_provider);
    tcase_add_test(tc, libsignal_hkdf_rfc5869_on_provider);
    tcase_add_test(tc, libsignal_signature_roundtrip_on_provider);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(provider_suite());
}
