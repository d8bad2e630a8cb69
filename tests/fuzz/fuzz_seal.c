/*
 * fuzz_seal.c: libFuzzer harness for unseal_envelope (client/seal), the
 * parser of untrusted sealed bytes a client receives from the relay.
 *
 * The recipient key pair is fixed: the private key is a constant, the public
 * key computed from it with OpenSSL's X25519 (libsignal form, 0x05 prefix),
 * so inputs replay the same way in every process. Selector byte:
 *
 *   0  the rest is a whole envelope, as the relay hands it over. Seeded
 *      with real envelopes sealed to the fixed key, so mutations reach the
 *      X25519/HKDF/GCM path; almost every mutation dies at the tag.
 *   1  the rest is the padded plaintext P (zero-extended to the next valid
 *      bucket), sealed to the fixed key with the test hook
 *      seal_encrypt_padded and then unsealed: this fuzzes what lies behind
 *      the tag (length prefix, padding, inner SealedContent decoding).
 *      Differential property: unseal accepts P exactly when the receiver's
 *      decision table in seal.h says so, computed here independently.
 *
 * Every mode: no crash, no leak; failure leaves *out zeroed; anything
 * accepted is a valid SealedContent (device, type, ciphertext 1..max) that
 * seals and unseals again to the same values.
 */
#include <string.h>

#include <openssl/evp.h>

#include "client/seal.h"
#include "fuzz_harness.h"

enum { SEAL_MODE_ENVELOPE, SEAL_MODE_PADDED, SEAL_MODES };

static uint8_t recipient_pub[SP_PUBKEY_LEN];
static uint8_t recipient_priv[32];
static int keys_ready;

static void keys_init(void)
{
    EVP_PKEY *k = NULL;
    size_t n = 32;
    if (keys_ready)
        return;
    for (size_t i = 0; i < sizeof recipient_priv; i++)
        recipient_priv[i] = (uint8_t)(0xa5 ^ (i * 29));
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, recipient_priv, 32);
    FUZZ_REQUIRE(k != NULL);
    recipient_pub[0] = SP_PUBKEY_TYPE;
    FUZZ_REQUIRE(EVP_PKEY_get_raw_public_key(k, recipient_pub + 1, &n) == 1 && n == 32);
    EVP_PKEY_free(k);
    keys_ready = 1;
}

static void check_accepted(const struct wire_sealed_content *c)
{
    struct wire_sealed_content again;
    struct buf env;
    FUZZ_REQUIRE(c->sender_device == SP_DEVICE_ID && (c->type == 2 || c->type == 3));
    FUZZ_REQUIRE(c->ciphertext != NULL && c->ciphertext_len >= 1 &&
                 c->ciphertext_len <= SP_SEAL_MAX_BUCKET);
    buf_init(&env, SP_SEAL_OVERHEAD + SP_SEAL_MAX_BUCKET);
    sp_status st = seal_envelope(&env, recipient_pub, c);
    FUZZ_REQUIRE(st == SP_OK || st == SP_ERR_TOO_LARGE);
    if (st == SP_OK) {
        FUZZ_REQUIRE(wire_check_sealed(env.data, env.len) == SP_OK);
        FUZZ_REQUIRE(unseal_envelope(&again, recipient_pub, recipient_priv, env.data, env.len) ==
                     SP_OK);
        FUZZ_REQUIRE(memcmp(again.sender, c->sender, SP_ADDRESS_LEN) == 0 &&
                     again.type == c->type && again.ciphertext_len == c->ciphertext_len &&
                     memcmp(again.ciphertext, c->ciphertext, c->ciphertext_len) == 0);
        wire_sealed_content_free(&again);
    }
    buf_free(&env);
}

static int zeroed(const struct wire_sealed_content *c)
{
    static const struct wire_sealed_content zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

static sp_status unseal_checked(const uint8_t *p, size_t n)
{
    struct wire_sealed_content c;
    sp_status st = unseal_envelope(&c, recipient_pub, recipient_priv, p, n);
    if (st == SP_OK) {
        check_accepted(&c);
        wire_sealed_content_free(&c);
    } else {
        FUZZ_REQUIRE(zeroed(&c));
    }
    return st;
}

/* seal.h's decision table for an authenticated plaintext P. */
static int spec_accepts(const uint8_t *padded, size_t bucket)
{
    struct wire_sealed_content c;
    size_t inner =
        (size_t)padded[0] << 24 | (size_t)padded[1] << 16 | (size_t)padded[2] << 8 | padded[3];
    if (inner > bucket - 4)
        return 0;
    for (size_t i = 4 + inner; i < bucket; i++)
        if (padded[i] != 0)
            return 0;
    if (wire_decode_sealed_content(&c, NULL, padded + 4, inner) != SP_OK)
        return 0;
    wire_sealed_content_free(&c);
    return 1;
}

static void fuzz_padded(const uint8_t *p, size_t n)
{
    size_t bucket = SP_SEAL_MIN_BUCKET;
    struct buf env;
    if (n > SP_SEAL_MAX_BUCKET)
        n = SP_SEAL_MAX_BUCKET;
    while (bucket < n)
        bucket <<= 1;
    uint8_t *padded = calloc(1, bucket);
    FUZZ_REQUIRE(padded != NULL);
    if (n > 0)
        memcpy(padded, p, n);
    buf_init(&env, SP_SEAL_OVERHEAD + SP_SEAL_MAX_BUCKET);
    FUZZ_REQUIRE(seal_encrypt_padded(&env, recipient_pub, padded, bucket) == SP_OK);
    FUZZ_REQUIRE(env.len == SP_SEAL_OVERHEAD + bucket);
    sp_status st = unseal_checked(env.data, env.len);
    FUZZ_REQUIRE((st == SP_OK) == spec_accepts(padded, bucket));
    /* Behind the tag: the length/padding checks (MALFORMED) or whatever
     * wire_decode_sealed_content says about the inner message, which
     * includes UNSUPPORTED_VERSION for SealedContent.version != 1 (a case
     * seal.h's table does not list) and TOO_LARGE from its size cap. */
    FUZZ_REQUIRE(st == SP_OK || st == SP_ERR_MALFORMED || st == SP_ERR_INVALID_FIELD ||
                 st == SP_ERR_UNSUPPORTED_VERSION || st == SP_ERR_TOO_LARGE);
    buf_free(&env);
    free(padded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keys_init();
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (data[0] % SEAL_MODES == SEAL_MODE_PADDED) {
        fuzz_padded(p, n);
    } else {
        sp_status st = unseal_checked(n > 0 ? p : NULL, n);
        FUZZ_REQUIRE(st == SP_OK || st == SP_ERR_MALFORMED || st == SP_ERR_UNSUPPORTED_VERSION ||
                     st == SP_ERR_DECRYPT);
    }
    return 0;
}

/* ---- seeds */

static void seed_inner(struct fuzz_seeds *s, size_t ct_len, uint32_t type)
{
    uint8_t *ct = malloc(ct_len);
    struct buf b;
    FUZZ_REQUIRE(ct != NULL);
    for (size_t i = 0; i < ct_len; i++)
        ct[i] = (uint8_t)(i * 7 + 3);
    struct wire_sealed_content c = {
        .sender_device = SP_DEVICE_ID, .type = type, .ciphertext = ct, .ciphertext_len = ct_len};
    memset(c.sender, 0x42, SP_ADDRESS_LEN);
    buf_init(&b, SP_SEAL_OVERHEAD + SP_SEAL_MAX_BUCKET);
    /* a real envelope (fresh ephemeral key: only E, C and T vary by run) */
    FUZZ_REQUIRE(seal_envelope(&b, recipient_pub, &c) == SP_OK);
    fuzz_seed_add_sel(s, SEAL_MODE_ENVELOPE, b.data, b.len);
    /* the same content as a padded plaintext: be32(len) || inner, the
     * zero padding left to the harness */
    buf_reset(&b);
    static const uint8_t zero4[4] = {0};
    FUZZ_REQUIRE(buf_append(&b, zero4, sizeof zero4) == SP_OK);
    FUZZ_REQUIRE(wire_encode_sealed_content(&b, &c) == SP_OK);
    size_t inner = b.len - 4;
    b.data[0] = (uint8_t)(inner >> 24);
    b.data[1] = (uint8_t)(inner >> 16);
    b.data[2] = (uint8_t)(inner >> 8);
    b.data[3] = (uint8_t)inner;
    fuzz_seed_add_sel(s, SEAL_MODE_PADDED, b.data, b.len);
    buf_free(&b);
    free(ct);
}

static void seal_seeds(struct fuzz_seeds *s)
{
    keys_init();
    seed_inner(s, 1, 2);
    seed_inner(s, 64, 3);
    seed_inner(s, 300, 2); /* 512 bucket */
    seed_inner(s, 1200, 3);
}

/* Protobuf tags of SealedContent's fields, key and version bytes. */
static const uint8_t seal_interesting[] = {0x01, 0x05, 0x08, 0x0a, 0x10, 0x12, 0x14, 0x18,
                                           0x1a, 0x20, 0x22, 0x02, 0x03, 0x00, 0xff, 0x80};

const struct fuzz_target fuzz_target = {
    .name = "seal",
    .seeds = seal_seeds,
    .iterations = 30000,
    .selectors = SEAL_MODES,
    .interesting = seal_interesting,
    .n_interesting = sizeof seal_interesting,
    .max_len = 4096,
};
