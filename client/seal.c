/*
 * seal.c: sealed envelopes on OpenSSL 3 (X25519, HKDF-SHA256, AES-256-GCM).
 * See seal.h for the format and the receiver's decision table.
 *
 * Owns nothing between calls; every OpenSSL object is per call (algorithm
 * fetches are served from OpenSSL's own cache, and sealing runs once per
 * message, not in a hot loop). Each function has one `out:` label that wipes
 * every secret it touched: shared secret, okm/key/nonce, padded plaintext.
 *
 * libsignal's curve code is not used here: OpenSSL's X25519 computes the same
 * shared secret from the same raw keys and is several times faster
 * (LIBSIGNAL.md section 13), and it refuses an all-zero result itself; we
 * check again anyway.
 */
#include "seal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "common/secmem.h"

#define X25519_LEN 32
#define INFO_PREFIX_LEN (sizeof SEAL_INFO_PREFIX - 1)
#define INFO_LEN (INFO_PREFIX_LEN + 1 + SP_SEAL_EPHEMERAL_LEN + SP_PUBKEY_LEN)
#define AD_LEN (1 + SP_SEAL_EPHEMERAL_LEN + SP_PUBKEY_LEN)
#define OKM_LEN (SEAL_KEY_LEN + SEAL_NONCE_LEN)
#define LEN_PREFIX 4

static size_t bucket_for(size_t padded_min)
{
    size_t b = SP_SEAL_MIN_BUCKET;
    while (b < padded_min && b < SP_SEAL_MAX_BUCKET)
        b <<= 1;
    return b >= padded_min ? b : 0;
}

static int valid_bucket(size_t b)
{
    return b >= SP_SEAL_MIN_BUCKET && b <= SP_SEAL_MAX_BUCKET && (b & (b - 1)) == 0;
}

size_t seal_envelope_size(size_t inner_len)
{
    if (inner_len > SEAL_MAX_INNER)
        return 0;
    return SP_SEAL_OVERHEAD + bucket_for(inner_len + LEN_PREFIX);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ---- HKDF */

sp_status seal_hkdf_sha256(uint8_t *okm, size_t okm_len, const uint8_t *ikm, size_t ikm_len,
                           const uint8_t *info, size_t info_len)
{
    static const uint8_t empty[1] = {0};
    sp_status st = SP_ERR_INTERNAL;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[4];
    char digest[] = "SHA256";

    ENSURE(okm != NULL && okm_len > 0 && okm_len <= 255 * 32, SP_ERR_USAGE);
    ENSURE((ikm != NULL || ikm_len == 0) && (info != NULL || info_len == 0), SP_ERR_USAGE);
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    ENSURE(kdf != NULL, SP_ERR_INTERNAL);
    kctx = EVP_KDF_CTX_new(kdf);
    ENSURE(kctx != NULL, SP_ERR_NOMEM);
    /* No salt parameter: RFC 5869 then uses HashLen zero bytes, which is the
     * same HMAC key as an empty salt. OpenSSL copies the key and info. */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *)(uintptr_t)(ikm_len ? ikm : empty),
                                                  ikm_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *)(uintptr_t)(info_len ? info : empty),
                                                  info_len);
    params[3] = OSSL_PARAM_construct_end();
    ENSURE(EVP_KDF_derive(kctx, okm, okm_len, params) == 1, SP_ERR_INTERNAL);
    st = SP_OK;
out:
    EVP_KDF_CTX_free(kctx); /* cleanses the copied key */
    EVP_KDF_free(kdf);
    if (st != SP_OK && okm != NULL)
        sp_wipe(okm, okm_len);
    return st;
}

/* okm = HKDF(shared, info = prefix || 0x00 || E || R33) split into key, nonce. */
static sp_status derive_from_shared(uint8_t key[static SEAL_KEY_LEN],
                                    uint8_t nonce[static SEAL_NONCE_LEN],
                                    const uint8_t shared[static X25519_LEN],
                                    const uint8_t eph_pub[static SP_SEAL_EPHEMERAL_LEN],
                                    const uint8_t recipient_pub[static SP_PUBKEY_LEN])
{
    sp_status st;
    uint8_t info[INFO_LEN];
    uint8_t okm[OKM_LEN];

    memcpy(info, SEAL_INFO_PREFIX, INFO_PREFIX_LEN);
    info[INFO_PREFIX_LEN] = 0x00;
    memcpy(info + INFO_PREFIX_LEN + 1, eph_pub, SP_SEAL_EPHEMERAL_LEN);
    memcpy(info + INFO_PREFIX_LEN + 1 + SP_SEAL_EPHEMERAL_LEN, recipient_pub, SP_PUBKEY_LEN);
    TRY(seal_hkdf_sha256(okm, sizeof okm, shared, X25519_LEN, info, sizeof info));
    memcpy(key, okm, SEAL_KEY_LEN);
    memcpy(nonce, okm + SEAL_KEY_LEN, SEAL_NONCE_LEN);
out:
    sp_wipe(okm, sizeof okm);
    return st;
}

/* ---- X25519 */

/* shared = X25519(mine, their_pub). SP_ERR_DECRYPT if OpenSSL refuses (it
 * does for an all-zero result) or the result is all zero. */
static sp_status x25519(uint8_t shared[static X25519_LEN], EVP_PKEY *mine,
                        const uint8_t their_pub[static X25519_LEN])
{
    sp_status st = SP_ERR_DECRYPT;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    size_t n = X25519_LEN;

    peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, their_pub, X25519_LEN);
    ENSURE(peer != NULL, SP_ERR_DECRYPT);
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    ENSURE(dctx != NULL, SP_ERR_NOMEM);
    ENSURE(EVP_PKEY_derive_init(dctx) == 1, SP_ERR_INTERNAL);
    ENSURE(EVP_PKEY_derive_set_peer(dctx, peer) == 1, SP_ERR_DECRYPT);
    ENSURE(EVP_PKEY_derive(dctx, shared, &n) == 1 && n == X25519_LEN, SP_ERR_DECRYPT);
    ENSURE(!all_zero(shared, X25519_LEN), SP_ERR_DECRYPT);
    st = SP_OK;
out:
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);
    if (st != SP_OK)
        sp_wipe(shared, X25519_LEN);
    return st;
}

/* The receiver's half: (key, nonce) from our imported private key. */
static sp_status derive_keys_with(uint8_t key[static SEAL_KEY_LEN],
                                  uint8_t nonce[static SEAL_NONCE_LEN], EVP_PKEY *mine,
                                  const uint8_t eph_pub[static SP_SEAL_EPHEMERAL_LEN],
                                  const uint8_t recipient_pub[static SP_PUBKEY_LEN])
{
    sp_status st;
    uint8_t shared[X25519_LEN];

    TRY(x25519(shared, mine, eph_pub));
    TRY(derive_from_shared(key, nonce, shared, eph_pub, recipient_pub));
out:
    sp_wipe(shared, sizeof shared);
    if (st != SP_OK) {
        sp_wipe(key, SEAL_KEY_LEN);
        sp_wipe(nonce, SEAL_NONCE_LEN);
    }
    return st;
}

struct seal_identity {
    EVP_PKEY *priv; /* X25519, imported once */
    uint8_t pub[SP_PUBKEY_LEN];
};

sp_status seal_identity_new(struct seal_identity **out, const uint8_t pub[static SP_PUBKEY_LEN],
                            const uint8_t priv[static 32])
{
    struct seal_identity *id = NULL;
    *out = NULL;
    if (pub[0] != SP_PUBKEY_TYPE)
        return SP_ERR_USAGE;
    id = calloc(1, sizeof *id);
    if (id == NULL)
        return SP_ERR_NOMEM;
    id->priv = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, X25519_LEN);
    if (id->priv == NULL) {
        free(id);
        return SP_ERR_INTERNAL;
    }
    memcpy(id->pub, pub, SP_PUBKEY_LEN);
    *out = id;
    return SP_OK;
}

void seal_identity_free(struct seal_identity *id)
{
    if (id == NULL)
        return;
    EVP_PKEY_free(id->priv); /* OpenSSL clears the private key */
    free(id);
}

sp_status seal_derive_keys(uint8_t key[static SEAL_KEY_LEN], uint8_t nonce[static SEAL_NONCE_LEN],
                           const uint8_t eph_pub[static SP_SEAL_EPHEMERAL_LEN],
                           const uint8_t recipient_pub[static SP_PUBKEY_LEN],
                           const uint8_t recipient_priv[static 32])
{
    sp_status st;
    EVP_PKEY *mine = NULL;

    mine = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, recipient_priv, X25519_LEN);
    ENSURE(mine != NULL, SP_ERR_INTERNAL);
    TRY(derive_keys_with(key, nonce, mine, eph_pub, recipient_pub));
out:
    EVP_PKEY_free(mine);
    return st;
}

/* ---- seal */

sp_status seal_encrypt_padded(struct buf *out, const uint8_t recipient_identity[static SP_PUBKEY_LEN],
                              const uint8_t *padded, size_t padded_len)
{
    sp_status st = SP_ERR_INTERNAL;
    EVP_PKEY_CTX *kctx = NULL;
    EVP_PKEY *eph = NULL;
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t eph_pub[SP_SEAL_EPHEMERAL_LEN];
    uint8_t shared[X25519_LEN];
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN];
    uint8_t ad[AD_LEN];
    uint8_t *dst;
    size_t n = sizeof eph_pub;
    int l1 = 0, l2 = 0;

    ENSURE(padded != NULL && valid_bucket(padded_len), SP_ERR_USAGE);
    ENSURE(recipient_identity[0] == SP_PUBKEY_TYPE, SP_ERR_INVALID_FIELD);

    kctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    ENSURE(kctx != NULL, SP_ERR_NOMEM);
    ENSURE(EVP_PKEY_keygen_init(kctx) == 1 && EVP_PKEY_keygen(kctx, &eph) == 1,
           SP_ERR_INTERNAL);
    ENSURE(EVP_PKEY_get_raw_public_key(eph, eph_pub, &n) == 1 && n == sizeof eph_pub,
           SP_ERR_INTERNAL);
    /* A low-order recipient key would make the shared secret zero. */
    st = x25519(shared, eph, recipient_identity + 1);
    ENSURE(st != SP_ERR_DECRYPT, SP_ERR_INVALID_FIELD);
    TRY(st);
    TRY(derive_from_shared(key, nonce, shared, eph_pub, recipient_identity));

    ad[0] = SP_SEAL_VERSION;
    memcpy(ad + 1, eph_pub, SP_SEAL_EPHEMERAL_LEN);
    memcpy(ad + 1 + SP_SEAL_EPHEMERAL_LEN, recipient_identity, SP_PUBKEY_LEN);

    /* Write straight into out; out->len moves only on success. */
    TRY(buf_reserve(out, SP_SEAL_OVERHEAD + padded_len));
    dst = out->data + out->len;
    dst[0] = SP_SEAL_VERSION;
    memcpy(dst + 1, eph_pub, SP_SEAL_EPHEMERAL_LEN);
    cctx = EVP_CIPHER_CTX_new();
    ENSURE(cctx != NULL, SP_ERR_NOMEM);
    st = SP_ERR_INTERNAL;
    ENSURE(EVP_EncryptInit_ex2(cctx, EVP_aes_256_gcm(), key, nonce, NULL) == 1, st);
    ENSURE(EVP_EncryptUpdate(cctx, NULL, &l1, ad, (int)sizeof ad) == 1, st);
    ENSURE(EVP_EncryptUpdate(cctx, dst + 1 + SP_SEAL_EPHEMERAL_LEN, &l1, padded,
                             (int)padded_len) == 1,
           st);
    ENSURE(EVP_EncryptFinal_ex(cctx, dst + 1 + SP_SEAL_EPHEMERAL_LEN + l1, &l2) == 1, st);
    ENSURE((size_t)l1 + (size_t)l2 == padded_len, st);
    ENSURE(EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, SP_SEAL_TAG_LEN,
                               dst + 1 + SP_SEAL_EPHEMERAL_LEN + padded_len) == 1,
           st);
    out->len += SP_SEAL_OVERHEAD + padded_len;
    st = SP_OK;
out:
    EVP_CIPHER_CTX_free(cctx); /* cleanses the key schedule */
    EVP_PKEY_free(eph);        /* cleanses the ephemeral private key */
    EVP_PKEY_CTX_free(kctx);
    sp_wipe(shared, sizeof shared);
    sp_wipe(key, sizeof key);
    sp_wipe(nonce, sizeof nonce);
    return st;
}

sp_status seal_envelope(struct buf *out, const uint8_t recipient_identity[static SP_PUBKEY_LEN],
                        const struct wire_sealed_content *inner)
{
    sp_status st;
    struct buf enc;
    uint8_t *padded = NULL;
    size_t bucket = 0;

    /* One allocation from empty: the encoder never reallocates (and so
     * never leaves an unwiped copy behind). Over the cap -> TOO_LARGE. */
    buf_init(&enc, SEAL_MAX_INNER);
    ENSURE(inner != NULL && (inner->type == 2 || inner->type == 3) &&
               inner->sender_device == SP_DEVICE_ID && inner->ciphertext != NULL &&
               inner->ciphertext_len > 0,
           SP_ERR_USAGE);
    ENSURE(recipient_identity[0] == SP_PUBKEY_TYPE, SP_ERR_INVALID_FIELD);
    TRY(wire_encode_sealed_content(&enc, inner));
    ENSURE(enc.len <= SEAL_MAX_INNER, SP_ERR_TOO_LARGE);
    bucket = bucket_for(enc.len + LEN_PREFIX);
    ENSURE(bucket != 0, SP_ERR_TOO_LARGE);
    padded = calloc(1, bucket);
    ENSURE(padded != NULL, SP_ERR_NOMEM);
    padded[0] = (uint8_t)(enc.len >> 24);
    padded[1] = (uint8_t)(enc.len >> 16);
    padded[2] = (uint8_t)(enc.len >> 8);
    padded[3] = (uint8_t)enc.len;
    memcpy(padded + LEN_PREFIX, enc.data, enc.len);
    TRY(seal_encrypt_padded(out, recipient_identity, padded, bucket));
out:
    sp_free_secret(padded, bucket);
    buf_free_secret(&enc);
    return st;
}

/* ---- unseal */

sp_status unseal_envelope(struct wire_sealed_content *out,
                          const uint8_t my_identity_pub[static SP_PUBKEY_LEN],
                          const uint8_t my_identity_priv[static 32], const uint8_t *content,
                          size_t len)
{
    struct seal_identity *id = NULL;
    memset(out, 0, sizeof *out);
    /* Framing errors first, so their statuses do not depend on the key. */
    if (content == NULL || len == 0)
        return SP_ERR_MALFORMED;
    if (content[0] != SP_SEAL_VERSION)
        return SP_ERR_UNSUPPORTED_VERSION;
    sp_status st = seal_identity_new(&id, my_identity_pub, my_identity_priv);
    if (st == SP_OK)
        st = unseal_envelope_with(out, id, content, len);
    seal_identity_free(id);
    return st;
}

sp_status unseal_envelope_with(struct wire_sealed_content *out, const struct seal_identity *id,
                               const uint8_t *content, size_t len)
{
    sp_status st = SP_ERR_INTERNAL;
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN];
    uint8_t ad[AD_LEN];
    uint8_t tag[SP_SEAL_TAG_LEN];
    uint8_t *padded = NULL;
    const uint8_t *eph_pub, *ct;
    size_t bucket = 0, inner_len;
    int l1 = 0, l2 = 0;

    memset(out, 0, sizeof *out);
    memset(key, 0, sizeof key);
    memset(nonce, 0, sizeof nonce);
    ENSURE(content != NULL && len > 0, SP_ERR_MALFORMED);
    ENSURE(content[0] == SP_SEAL_VERSION, SP_ERR_UNSUPPORTED_VERSION);
    ENSURE(len >= SP_SEAL_OVERHEAD && valid_bucket(len - SP_SEAL_OVERHEAD), SP_ERR_MALFORMED);
    bucket = len - SP_SEAL_OVERHEAD;
    eph_pub = content + 1;
    ct = eph_pub + SP_SEAL_EPHEMERAL_LEN;
    memcpy(tag, ct + bucket, sizeof tag);

    TRY(derive_keys_with(key, nonce, id->priv, eph_pub, id->pub));
    ad[0] = SP_SEAL_VERSION;
    memcpy(ad + 1, eph_pub, SP_SEAL_EPHEMERAL_LEN);
    memcpy(ad + 1 + SP_SEAL_EPHEMERAL_LEN, id->pub, SP_PUBKEY_LEN);

    padded = malloc(bucket);
    cctx = EVP_CIPHER_CTX_new();
    ENSURE(padded != NULL && cctx != NULL, SP_ERR_NOMEM);
    ENSURE(EVP_DecryptInit_ex2(cctx, EVP_aes_256_gcm(), key, nonce, NULL) == 1, SP_ERR_INTERNAL);
    ENSURE(EVP_DecryptUpdate(cctx, NULL, &l1, ad, (int)sizeof ad) == 1, SP_ERR_INTERNAL);
    ENSURE(EVP_DecryptUpdate(cctx, padded, &l1, ct, (int)bucket) == 1, SP_ERR_INTERNAL);
    ENSURE(EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_TAG, sizeof tag, tag) == 1,
           SP_ERR_INTERNAL);
    /* The tag check: nothing of `padded` is looked at unless it passes. */
    ENSURE(EVP_DecryptFinal_ex(cctx, padded + l1, &l2) == 1, SP_ERR_DECRYPT);
    ENSURE((size_t)l1 + (size_t)l2 == bucket, SP_ERR_INTERNAL);

    inner_len = (size_t)padded[0] << 24 | (size_t)padded[1] << 16 | (size_t)padded[2] << 8 |
                (size_t)padded[3];
    ENSURE(inner_len <= bucket - LEN_PREFIX, SP_ERR_MALFORMED);
    ENSURE(all_zero(padded + LEN_PREFIX + inner_len, bucket - LEN_PREFIX - inner_len),
           SP_ERR_MALFORMED);
    /* wire_decode_sealed_content zeroes *out itself on failure. */
    TRY(wire_decode_sealed_content(out, NULL, padded + LEN_PREFIX, inner_len));
out:
    EVP_CIPHER_CTX_free(cctx);
    sp_free_secret(padded, bucket);
    sp_wipe(key, sizeof key);
    sp_wipe(nonce, sizeof nonce);
    return st;
}
