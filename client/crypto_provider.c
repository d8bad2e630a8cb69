/*
 * crypto_provider.c: libsignal's crypto callbacks on OpenSSL 3 EVP.
 *
 * State: there are no globals. Each struct crypto_provider holds the fetched
 * algorithm objects (EVP_MAC "HMAC", EVP_MD "SHA512", six AES EVP_CIPHERs)
 * and one prototype EVP_MAC_CTX with digest=SHA256 already set. All of them
 * are written once in crypto_provider_new and only read afterwards, which is
 * what makes concurrent use safe: fetched objects are immutable and
 * refcounted atomically by OpenSSL, and EVP_MAC_CTX_dup only reads its
 * source. Every callback works on its own per-call EVP_*_CTX.
 *
 * Why a prototype MAC context: building a context and setting the digest
 * parameter on every HMAC init measured ~20% slower end to end; libsignal
 * makes ~14 HMAC inits per message pair (LIBSIGNAL.md 3.2).
 *
 * Traps handled here (LIBSIGNAL.md 3.2, 12.1):
 *  - hmac init sets *ctx = NULL before anything else; libsignal calls
 *    cleanup after a failed init, sometimes on an uninitialised pointer.
 *  - EVP_MAC_init rejects a NULL key, so an empty key becomes a non-NULL
 *    pointer with length 0 (HMAC with an empty key is well defined).
 *  - sha512 final re-initialises the context (the fingerprint code reuses it).
 *  - signal_buffer cannot shrink: encrypt allocates the exact output size,
 *    decrypt works in a temporary that is cleansed before it is freed.
 */
#include "crypto_provider.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define AES_BLOCK 16
#define HMAC_SHA256_LEN 32
#define SHA512_LEN 64
/* EVP cipher calls take int lengths; leave room for one block of padding. */
#define CIPHER_MAX_IN ((size_t)INT_MAX - 2 * AES_BLOCK)

struct crypto_provider {
    EVP_MAC *hmac;
    EVP_MAC_CTX *hmac_proto; /* digest = SHA256, no key; only ever duplicated */
    EVP_MD *sha512;
    EVP_CIPHER *cbc[3]; /* AES-128/192/256-CBC */
    EVP_CIPHER *ctr[3]; /* AES-128/192/256-CTR */
};

/* ---- lifetime */

sp_status crypto_provider_new(struct crypto_provider **out)
{
    static const char *const cbc_names[3] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
    static const char *const ctr_names[3] = {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"};
    sp_status st = SP_ERR_INTERNAL;
    struct crypto_provider *p = NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[2];

    *out = NULL;
    p = calloc(1, sizeof *p);
    ENSURE(p != NULL, SP_ERR_NOMEM);
    p->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ENSURE(p->hmac != NULL, SP_ERR_INTERNAL);
    p->hmac_proto = EVP_MAC_CTX_new(p->hmac);
    ENSURE(p->hmac_proto != NULL, SP_ERR_NOMEM);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    ENSURE(EVP_MAC_CTX_set_params(p->hmac_proto, params) == 1, SP_ERR_INTERNAL);
    p->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
    ENSURE(p->sha512 != NULL, SP_ERR_INTERNAL);
    for (int i = 0; i < 3; i++) {
        p->cbc[i] = EVP_CIPHER_fetch(NULL, cbc_names[i], NULL);
        p->ctr[i] = EVP_CIPHER_fetch(NULL, ctr_names[i], NULL);
        ENSURE(p->cbc[i] != NULL && p->ctr[i] != NULL, SP_ERR_INTERNAL);
    }
    *out = p;
    p = NULL;
    st = SP_OK;
out:
    crypto_provider_free(p);
    return st;
}

void crypto_provider_free(struct crypto_provider *p)
{
    if (p == NULL)
        return;
    EVP_MAC_CTX_free(p->hmac_proto);
    EVP_MAC_free(p->hmac);
    EVP_MD_free(p->sha512);
    for (int i = 0; i < 3; i++) {
        EVP_CIPHER_free(p->cbc[i]);
        EVP_CIPHER_free(p->ctr[i]);
    }
    free(p);
}

/* ---- random */

static int cp_random(uint8_t *data, size_t len, void *user_data)
{
    (void)user_data;
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(data, chunk) != 1)
            return SG_ERR_UNKNOWN;
        data += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

/* ---- HMAC-SHA256 */

static int cp_hmac_init(void **hmac_context, const uint8_t *key, size_t key_len, void *user_data)
{
    static const uint8_t empty_key = 0; /* EVP_MAC_init rejects NULL keys */
    const struct crypto_provider *p = user_data;
    EVP_MAC_CTX *ctx = NULL;

    *hmac_context = NULL;
    if (key == NULL && key_len > 0)
        return SG_ERR_INVAL;
    ctx = EVP_MAC_CTX_dup(p->hmac_proto);
    if (ctx == NULL)
        return SG_ERR_NOMEM;
    if (EVP_MAC_init(ctx, key_len > 0 ? key : &empty_key, key_len, NULL) != 1) {
        EVP_MAC_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *hmac_context = ctx;
    return 0;
}

static int cp_hmac_update(void *hmac_context, const uint8_t *data, size_t data_len,
                          void *user_data)
{
    (void)user_data;
    if (hmac_context == NULL || (data == NULL && data_len > 0))
        return SG_ERR_INVAL;
    if (data_len == 0)
        return 0;
    return EVP_MAC_update(hmac_context, data, data_len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cp_hmac_final(void *hmac_context, signal_buffer **output, void *user_data)
{
    uint8_t md[HMAC_SHA256_LEN];
    size_t n = 0;
    int rc = SG_ERR_UNKNOWN;
    (void)user_data;

    *output = NULL;
    if (hmac_context == NULL)
        return SG_ERR_INVAL;
    if (EVP_MAC_final(hmac_context, md, &n, sizeof md) != 1 || n != sizeof md)
        goto out;
    *output = signal_buffer_create(md, n);
    rc = *output != NULL ? 0 : SG_ERR_NOMEM;
out:
    OPENSSL_cleanse(md, sizeof md);
    return rc;
}

static void cp_hmac_cleanup(void *hmac_context, void *user_data)
{
    (void)user_data;
    EVP_MAC_CTX_free(hmac_context); /* NULL-safe */
}

/* ---- SHA-512 */

static int cp_sha512_init(void **digest_context, void *user_data)
{
    const struct crypto_provider *p = user_data;
    EVP_MD_CTX *ctx = NULL;

    *digest_context = NULL;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return SG_ERR_NOMEM;
    if (EVP_DigestInit_ex2(ctx, p->sha512, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *digest_context = ctx;
    return 0;
}

static int cp_sha512_update(void *digest_context, const uint8_t *data, size_t data_len,
                            void *user_data)
{
    (void)user_data;
    if (digest_context == NULL || (data == NULL && data_len > 0))
        return SG_ERR_INVAL;
    if (data_len == 0)
        return 0;
    return EVP_DigestUpdate(digest_context, data, data_len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int cp_sha512_final(void *digest_context, signal_buffer **output, void *user_data)
{
    const struct crypto_provider *p = user_data;
    uint8_t md[SHA512_LEN];
    unsigned int n = 0;

    *output = NULL;
    if (digest_context == NULL)
        return SG_ERR_INVAL;
    if (EVP_DigestFinal_ex(digest_context, md, &n) != 1 || n != sizeof md)
        return SG_ERR_UNKNOWN;
    /* libsignal reuses the context after final (fingerprints): start afresh. */
    if (EVP_DigestInit_ex2(digest_context, p->sha512, NULL) != 1)
        return SG_ERR_UNKNOWN;
    *output = signal_buffer_create(md, n);
    return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static void cp_sha512_cleanup(void *digest_context, void *user_data)
{
    (void)user_data;
    EVP_MD_CTX_free(digest_context); /* NULL-safe */
}

/* ---- AES-CBC/PKCS#5 and AES-CTR */

static const EVP_CIPHER *pick_cipher(const struct crypto_provider *p, int cipher, size_t key_len,
                                     size_t iv_len)
{
    int idx;
    if (key_len == 16)
        idx = 0;
    else if (key_len == 24)
        idx = 1;
    else if (key_len == 32)
        idx = 2;
    else
        return NULL;
    if (iv_len != AES_BLOCK)
        return NULL;
    if (cipher == SG_CIPHER_AES_CBC_PKCS5)
        return p->cbc[idx];
    if (cipher == SG_CIPHER_AES_CTR_NOPADDING)
        return p->ctr[idx];
    return NULL;
}

static int cp_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *plaintext,
                      size_t plaintext_len, void *user_data)
{
    const struct crypto_provider *p = user_data;
    const EVP_CIPHER *c = pick_cipher(p, cipher, key_len, iv_len);
    EVP_CIPHER_CTX *ctx = NULL;
    signal_buffer *buf = NULL;
    size_t want;
    int n1 = 0, n2 = 0;
    int rc = SG_ERR_UNKNOWN;

    *output = NULL;
    if (c == NULL || key == NULL || iv == NULL || (plaintext == NULL && plaintext_len > 0) ||
        plaintext_len > CIPHER_MAX_IN)
        return SG_ERR_INVAL;
    /* PKCS#5 always adds 1..16 bytes; CTR is length-preserving. */
    want = cipher == SG_CIPHER_AES_CBC_PKCS5 ? (plaintext_len / AES_BLOCK + 1) * AES_BLOCK
                                             : plaintext_len;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        rc = SG_ERR_NOMEM;
        goto out;
    }
    /* signal_buffer_alloc(0) is valid: an empty CTR plaintext. */
    buf = signal_buffer_alloc(want);
    if (buf == NULL) {
        rc = SG_ERR_NOMEM;
        goto out;
    }
    if (EVP_EncryptInit_ex2(ctx, c, key, iv, NULL) != 1)
        goto out;
    if (plaintext_len > 0 &&
        EVP_EncryptUpdate(ctx, signal_buffer_data(buf), &n1, plaintext, (int)plaintext_len) != 1)
        goto out;
    if (EVP_EncryptFinal_ex(ctx, signal_buffer_data(buf) + n1, &n2) != 1)
        goto out;
    if ((size_t)n1 + (size_t)n2 != want)
        goto out;
    *output = buf;
    buf = NULL;
    rc = 0;
out:
    signal_buffer_free(buf);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static int cp_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *ciphertext,
                      size_t ciphertext_len, void *user_data)
{
    const struct crypto_provider *p = user_data;
    const EVP_CIPHER *c = pick_cipher(p, cipher, key_len, iv_len);
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *tmp = NULL;
    size_t tmp_len = ciphertext_len + AES_BLOCK;
    int n1 = 0, n2 = 0;
    int rc = SG_ERR_UNKNOWN;

    *output = NULL;
    if (c == NULL || key == NULL || iv == NULL || (ciphertext == NULL && ciphertext_len > 0) ||
        ciphertext_len > CIPHER_MAX_IN)
        return SG_ERR_INVAL;
    if (cipher == SG_CIPHER_AES_CBC_PKCS5 &&
        (ciphertext_len == 0 || ciphertext_len % AES_BLOCK != 0))
        return SG_ERR_INVAL;
    ctx = EVP_CIPHER_CTX_new();
    tmp = malloc(tmp_len);
    if (ctx == NULL || tmp == NULL) {
        rc = SG_ERR_NOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex2(ctx, c, key, iv, NULL) != 1)
        goto out;
    if (ciphertext_len > 0 &&
        EVP_DecryptUpdate(ctx, tmp, &n1, ciphertext, (int)ciphertext_len) != 1)
        goto out;
    /* Fails on bad PKCS#5 padding. */
    if (EVP_DecryptFinal_ex(ctx, tmp + n1, &n2) != 1)
        goto out;
    *output = signal_buffer_create(tmp, (size_t)n1 + (size_t)n2);
    rc = *output != NULL ? 0 : SG_ERR_NOMEM;
out:
    if (tmp != NULL) {
        OPENSSL_cleanse(tmp, tmp_len);
        free(tmp);
    }
    EVP_CIPHER_CTX_free(ctx); /* also cleanses the key schedule */
    return rc;
}

void crypto_provider_fill(struct crypto_provider *p, signal_crypto_provider *out)
{
    memset(out, 0, sizeof *out);
    out->random_func = cp_random;
    out->hmac_sha256_init_func = cp_hmac_init;
    out->hmac_sha256_update_func = cp_hmac_update;
    out->hmac_sha256_final_func = cp_hmac_final;
    out->hmac_sha256_cleanup_func = cp_hmac_cleanup;
    out->sha512_digest_init_func = cp_sha512_init;
    out->sha512_digest_update_func = cp_sha512_update;
    out->sha512_digest_final_func = cp_sha512_final;
    out->sha512_digest_cleanup_func = cp_sha512_cleanup;
    out->encrypt_func = cp_encrypt;
    out->decrypt_func = cp_decrypt;
    out->user_data = p;
}
