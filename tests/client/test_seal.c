/*
 * test_seal.c: the sealed envelope. Round trips at every bucket boundary,
 * an independent re-implementation of the opening side (so both ends cannot
 * agree on a wrong layout), every tampered byte, truncation, wrong keys,
 * versions, low-order keys, padding, size limits, and (key, nonce) freshness.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "client/seal.h"
#include "client/signal_ctx.h"
#include "common/wire.h"
#include "testutil.h"

static struct signal_ctx *sc;
static uint8_t a_pub[SP_PUBKEY_LEN], a_priv[SP_PRIVKEY_LEN];
static uint8_t b_pub[SP_PUBKEY_LEN], b_priv[SP_PRIVKEY_LEN];

static void setup(void)
{
    ck_assert_int_eq(signal_ctx_new(&sc), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, a_pub, a_priv), SP_OK);
    ck_assert_int_eq(signal_ctx_identity_generate(sc, b_pub, b_priv), SP_OK);
}

static void teardown(void)
{
    signal_ctx_free(sc);
    sc = NULL;
}

static uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = 0;
    uint8_t *out = malloc(strlen(hex) / 2 + 1);
    int hi = -1;
    ck_assert_ptr_nonnull(out);
    for (const char *s = hex; *s != '\0'; s++) {
        int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = n;
    return out;
}

/* An inner message with a ciphertext of n bytes (caller frees ciphertext). */
static struct wire_sealed_content make_inner(size_t n, uint32_t type)
{
    struct wire_sealed_content c = {0};
    for (size_t i = 0; i < SP_ADDRESS_LEN; i++)
        c.sender[i] = (uint8_t)(0xa0 + i);
    c.sender_device = SP_DEVICE_ID;
    c.type = type;
    c.ciphertext = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(c.ciphertext);
    for (size_t i = 0; i < n; i++)
        c.ciphertext[i] = (uint8_t)(i * 31 + 7);
    c.ciphertext_len = n;
    return c;
}

static size_t encoded_len(const struct wire_sealed_content *c)
{
    struct buf b;
    size_t n;
    buf_init(&b, 1u << 20);
    ck_assert_int_eq(wire_encode_sealed_content(&b, c), SP_OK);
    n = b.len;
    buf_free(&b);
    return n;
}

/* Ciphertext length whose encoded inner is exactly `target` bytes, or 0 if
 * none is (varint length boundaries skip some sizes). */
static size_t ct_len_for_inner(size_t target)
{
    size_t n = target > 40 ? target - 40 : 1;
    for (;; n++) {
        struct wire_sealed_content c = make_inner(n, 2);
        size_t e = encoded_len(&c);
        free(c.ciphertext);
        if (e == target)
            return n;
        if (e > target)
            return 0;
    }
}

static void assert_same_inner(const struct wire_sealed_content *a,
                              const struct wire_sealed_content *b)
{
    ck_assert_mem_eq(a->sender, b->sender, SP_ADDRESS_LEN);
    ck_assert_uint_eq(a->sender_device, b->sender_device);
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_uint_eq(a->ciphertext_len, b->ciphertext_len);
    ck_assert_mem_eq(a->ciphertext, b->ciphertext, a->ciphertext_len);
}

/* Seal an inner with n ciphertext bytes to A; out is initialised here. */
static void seal_n(struct buf *out, size_t n)
{
    struct wire_sealed_content in = make_inner(n, 3);
    buf_init(out, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_envelope(out, a_pub, &in), SP_OK);
    free(in.ciphertext);
}

static sp_status open_a(const uint8_t *p, size_t len)
{
    struct wire_sealed_content got;
    sp_status st = unseal_envelope(&got, a_pub, a_priv, p, len);
    if (st != SP_OK) {
        ck_assert_ptr_null(got.ciphertext);
        ck_assert_uint_eq(got.ciphertext_len, 0);
    }
    wire_sealed_content_free(&got);
    return st;
}

/* ---- round trips */

START_TEST(roundtrip_bucket_boundaries)
{
    /* 4 + len(inner) -> expected bucket */
    static const struct {
        size_t padded;
        size_t bucket;
    } cases[] = {
        {0, 256}, /* smallest inner (1-byte ciphertext) */
        {256, 256}, {257, 512}, {512, 512}, {513, 1024}, {4096, 4096}, {4097, 8192},
        {32769, 65536}, {65536, 65536},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 1;
        if (cases[i].padded != 0) {
            size_t target = cases[i].padded - 4;
            n = ct_len_for_inner(target);
            if (n == 0) /* skipped by a varint boundary: take the next size */
                n = ct_len_for_inner(target + 1);
            ck_assert_uint_ne(n, 0);
        }
        struct wire_sealed_content in = make_inner(n, i % 2 ? 2 : 3), got;
        struct buf out;
        size_t inner_len = encoded_len(&in);
        buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
        ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_OK);
        ck_assert_uint_eq(out.len, SP_SEAL_OVERHEAD + cases[i].bucket);
        ck_assert_uint_eq(out.len, seal_envelope_size(inner_len));
        ck_assert_uint_eq(out.data[0], SP_SEAL_VERSION);
        ck_assert_int_eq(wire_check_sealed(out.data, out.len), SP_OK);
        ck_assert_int_eq(unseal_envelope(&got, a_pub, a_priv, out.data, out.len), SP_OK);
        assert_same_inner(&in, &got);
        wire_sealed_content_free(&got);
        buf_free(&out);
        free(in.ciphertext);
    }
}
END_TEST

START_TEST(exact_boundary_sizes_exist)
{
    /* The brief's boundaries are reachable exactly (not via a varint skip). */
    ck_assert_uint_ne(ct_len_for_inner(256 - 4), 0);
    ck_assert_uint_ne(ct_len_for_inner(257 - 4), 0);
    ck_assert_uint_ne(ct_len_for_inner(65536 - 4), 0);
    ck_assert_uint_eq(seal_envelope_size(0), SP_SEAL_OVERHEAD + 256);
    ck_assert_uint_eq(seal_envelope_size(252), SP_SEAL_OVERHEAD + 256);
    ck_assert_uint_eq(seal_envelope_size(253), SP_SEAL_OVERHEAD + 512);
    ck_assert_uint_eq(seal_envelope_size(65532), SP_SEAL_OVERHEAD + 65536);
    ck_assert_uint_eq(seal_envelope_size(65533), 0);
}
END_TEST

START_TEST(seal_appends_to_out)
{
    struct wire_sealed_content in = make_inner(10, 2), got;
    struct buf out;
    buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES + 3);
    ck_assert_int_eq(buf_append(&out, (const uint8_t *)"abc", 3), SP_OK);
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_OK);
    ck_assert_uint_eq(out.len, 3 + SP_SEAL_OVERHEAD + 256);
    ck_assert_mem_eq(out.data, "abc", 3);
    ck_assert_int_eq(unseal_envelope(&got, a_pub, a_priv, out.data + 3, out.len - 3), SP_OK);
    assert_same_inner(&in, &got);
    wire_sealed_content_free(&got);
    buf_free(&out);
    free(in.ciphertext);
}
END_TEST

/* ---- an independent opener written from the spec (other OpenSSL APIs:
 * EVP_PKEY HKDF with an explicit 32-zero salt, which RFC 5869 says equals
 * "no salt"). */

static int ref_open(uint8_t **inner, size_t *inner_len, const uint8_t *env, size_t len,
                    const uint8_t pub33[33], const uint8_t priv[32])
{
    uint8_t shared[32], okm[44], salt[32] = {0}, info[16 + 1 + 32 + 33], ad[1 + 32 + 33];
    size_t n = 32, bucket = len - 49, olen = sizeof okm;
    int l = 0, ok = 0;
    uint8_t *p = malloc(bucket);
    uint8_t tag[16];
    EVP_PKEY *me = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    EVP_PKEY *eph = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, env + 1, 32);
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(me, NULL);
    EVP_PKEY_CTX *h = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

    ck_assert(me && eph && d && h && c && p);
    ck_assert_int_eq(EVP_PKEY_derive_init(d), 1);
    ck_assert_int_eq(EVP_PKEY_derive_set_peer(d, eph), 1);
    ck_assert_int_eq(EVP_PKEY_derive(d, shared, &n), 1);
    memcpy(info, "sealpost/v1/seal", 16);
    info[16] = 0;
    memcpy(info + 17, env + 1, 32);
    memcpy(info + 49, pub33, 33);
    ck_assert_int_eq(EVP_PKEY_derive_init(h), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_hkdf_md(h, EVP_sha256()), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set1_hkdf_salt(h, salt, sizeof salt), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set1_hkdf_key(h, shared, 32), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_add1_hkdf_info(h, info, sizeof info), 1);
    ck_assert_int_eq(EVP_PKEY_derive(h, okm, &olen), 1);
    ad[0] = 1;
    memcpy(ad + 1, env + 1, 32);
    memcpy(ad + 33, pub33, 33);
    memcpy(tag, env + 33 + bucket, 16);
    ck_assert_int_eq(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, okm, okm + 32), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, NULL, &l, ad, sizeof ad), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, p, &l, env + 33, (int)bucket), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag), 1);
    if (EVP_DecryptFinal_ex(c, p + l, &l) == 1) {
        size_t il = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        ck_assert_uint_le(il, bucket - 4);
        for (size_t i = 4 + il; i < bucket; i++)
            ck_assert_uint_eq(p[i], 0);
        *inner = malloc(il + 1);
        memcpy(*inner, p + 4, il);
        *inner_len = il;
        ok = 1;
    }
    EVP_CIPHER_CTX_free(c);
    EVP_PKEY_CTX_free(h);
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(eph);
    EVP_PKEY_free(me);
    free(p);
    return ok;
}

START_TEST(independent_opener_agrees)
{
    static const size_t sizes[] = {1, 300, 5000};
    for (size_t i = 0; i < 3; i++) {
        struct wire_sealed_content in = make_inner(sizes[i], 3);
        struct buf out, enc;
        uint8_t *inner = NULL;
        size_t inner_len = 0;
        buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
        buf_init(&enc, SP_HARD_MAX_ENVELOPE_BYTES);
        ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_OK);
        ck_assert_int_eq(wire_encode_sealed_content(&enc, &in), SP_OK);
        ck_assert_int_eq(ref_open(&inner, &inner_len, out.data, out.len, a_pub, a_priv), 1);
        ck_assert_uint_eq(inner_len, enc.len);
        ck_assert_mem_eq(inner, enc.data, enc.len);
        /* ... and the reference opener fails for the other recipient */
        free(inner);
        inner = NULL;
        ck_assert_int_eq(ref_open(&inner, &inner_len, out.data, out.len, b_pub, b_priv), 0);
        buf_free(&out);
        buf_free(&enc);
        free(in.ciphertext);
    }
}
END_TEST

/* ---- negative cases */

START_TEST(every_tampered_byte_rejected)
{
    struct buf out;
    seal_n(&out, 40);
    ck_assert_uint_eq(out.len, SP_SEAL_OVERHEAD + 256);
    for (size_t i = 0; i < out.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            out.data[i] ^= (uint8_t)(1u << bit);
            /* version byte -> version error; E, C, T -> tag failure */
            ck_assert_int_eq(open_a(out.data, out.len),
                             i == 0 ? SP_ERR_UNSUPPORTED_VERSION : SP_ERR_DECRYPT);
            out.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert_int_eq(open_a(out.data, out.len), SP_OK);
    buf_free(&out);
}
END_TEST

START_TEST(truncated_and_extended_rejected)
{
    struct buf out, big;
    seal_n(&out, 40);
    for (size_t l = 0; l < out.len; l++)
        ck_assert_int_eq(open_a(out.data, l), SP_ERR_MALFORMED);
    ck_assert_int_eq(open_a(NULL, 0), SP_ERR_MALFORMED);
    ck_assert_int_eq(buf_append_u8(&out, 0), SP_OK);
    ck_assert_int_eq(open_a(out.data, out.len), SP_ERR_MALFORMED);
    /* cut a 512-bucket envelope to a valid 256-bucket length: framing passes,
     * the tag does not */
    seal_n(&big, 300);
    ck_assert_uint_eq(big.len, SP_SEAL_OVERHEAD + 512);
    ck_assert_int_eq(wire_check_sealed(big.data, SP_SEAL_OVERHEAD + 256), SP_OK);
    ck_assert_int_eq(open_a(big.data, SP_SEAL_OVERHEAD + 256), SP_ERR_DECRYPT);
    buf_free(&out);
    buf_free(&big);
}
END_TEST

START_TEST(wrong_recipient_rejected)
{
    struct wire_sealed_content got;
    struct buf out;
    seal_n(&out, 100);
    ck_assert_int_eq(unseal_envelope(&got, b_pub, b_priv, out.data, out.len), SP_ERR_DECRYPT);
    /* right private key, but a different public key bound into AD/info */
    ck_assert_int_eq(unseal_envelope(&got, b_pub, a_priv, out.data, out.len), SP_ERR_DECRYPT);
    ck_assert_int_eq(unseal_envelope(&got, a_pub, b_priv, out.data, out.len), SP_ERR_DECRYPT);
    ck_assert_ptr_null(got.ciphertext);
    /* my public key without the type byte is a caller error */
    uint8_t bad_pub[SP_PUBKEY_LEN];
    memcpy(bad_pub, a_pub, sizeof bad_pub);
    bad_pub[0] = 0;
    ck_assert_int_eq(unseal_envelope(&got, bad_pub, a_priv, out.data, out.len), SP_ERR_USAGE);
    ck_assert_int_eq(open_a(out.data, out.len), SP_OK);
    buf_free(&out);
}
END_TEST

START_TEST(unknown_version_rejected)
{
    static const uint8_t versions[] = {0x00, 0x02, 0x7f, 0xff};
    struct buf out;
    seal_n(&out, 10);
    for (size_t i = 0; i < sizeof versions; i++) {
        out.data[0] = versions[i];
        ck_assert_int_eq(open_a(out.data, out.len), SP_ERR_UNSUPPORTED_VERSION);
        /* never downgraded, whatever the length */
        ck_assert_int_eq(open_a(out.data, 1), SP_ERR_UNSUPPORTED_VERSION);
        ck_assert_int_eq(open_a(out.data, 100), SP_ERR_UNSUPPORTED_VERSION);
    }
    buf_free(&out);
}
END_TEST

/* X25519 points of small order (and non-canonical encodings of them). */
static const char *const low_order[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000080",
};

START_TEST(low_order_ephemeral_rejected)
{
    struct buf out;
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN];
    seal_n(&out, 10);
    for (size_t i = 0; i < sizeof low_order / sizeof low_order[0]; i++) {
        size_t n;
        uint8_t *pt = unhex(low_order[i], &n);
        ck_assert_uint_eq(n, 32);
        memcpy(out.data + 1, pt, 32);
        ck_assert_int_eq(open_a(out.data, out.len), SP_ERR_DECRYPT);
        ck_assert_int_eq(seal_derive_keys(key, nonce, pt, a_pub, a_priv), SP_ERR_DECRYPT);
        free(pt);
    }
    buf_free(&out);
}
END_TEST

START_TEST(low_order_or_untyped_recipient_rejected_at_seal)
{
    struct wire_sealed_content in = make_inner(10, 2);
    struct buf out;
    uint8_t r[SP_PUBKEY_LEN];
    buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
    for (size_t i = 0; i < sizeof low_order / sizeof low_order[0]; i++) {
        size_t n;
        uint8_t *pt = unhex(low_order[i], &n);
        r[0] = SP_PUBKEY_TYPE;
        memcpy(r + 1, pt, 32);
        ck_assert_int_eq(seal_envelope(&out, r, &in), SP_ERR_INVALID_FIELD);
        free(pt);
    }
    memcpy(r, a_pub, sizeof r);
    r[0] = 0x04;
    ck_assert_int_eq(seal_envelope(&out, r, &in), SP_ERR_INVALID_FIELD);
    ck_assert_uint_eq(out.len, 0);
    buf_free(&out);
    free(in.ciphertext);
}
END_TEST

/* Padded plaintext with a valid inner of `n` ciphertext bytes. */
static uint8_t *make_padded(size_t bucket, size_t *inner_len)
{
    struct wire_sealed_content in = make_inner(20, 2);
    struct buf enc;
    uint8_t *p = calloc(1, bucket);
    buf_init(&enc, bucket);
    ck_assert_int_eq(wire_encode_sealed_content(&enc, &in), SP_OK);
    p[0] = (uint8_t)(enc.len >> 24);
    p[1] = (uint8_t)(enc.len >> 16);
    p[2] = (uint8_t)(enc.len >> 8);
    p[3] = (uint8_t)enc.len;
    memcpy(p + 4, enc.data, enc.len);
    *inner_len = enc.len;
    buf_free(&enc);
    free(in.ciphertext);
    return p;
}

static sp_status seal_raw_and_open(const uint8_t *p, size_t bucket)
{
    struct buf out;
    sp_status st;
    buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_encrypt_padded(&out, a_pub, p, bucket), SP_OK);
    ck_assert_uint_eq(out.len, SP_SEAL_OVERHEAD + bucket);
    st = open_a(out.data, out.len);
    buf_free(&out);
    return st;
}

START_TEST(padding_and_inner_length_checked)
{
    size_t il;
    uint8_t *p = make_padded(512, &il);
    /* control: the hook builds envelopes the real opener accepts */
    ck_assert_int_eq(seal_raw_and_open(p, 512), SP_OK);
    /* a non-zero byte anywhere in the padding */
    static const size_t where[] = {0, 1, 100, 511};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        size_t pos = where[i] == 0 ? 4 + il : where[i];
        if (pos < 4 + il)
            continue;
        p[pos] = 0x01;
        ck_assert_int_eq(seal_raw_and_open(p, 512), SP_ERR_MALFORMED);
        p[pos] = 0;
    }
    /* inner length past the bucket */
    p[2] = 0x01;
    p[3] = 0xfd; /* 509 = bucket - 3 */
    ck_assert_int_eq(seal_raw_and_open(p, 512), SP_ERR_MALFORMED);
    memset(p, 0xff, 4);
    ck_assert_int_eq(seal_raw_and_open(p, 512), SP_ERR_MALFORMED);
    /* inner length that cuts the protobuf short, and zero */
    p[0] = p[1] = 0;
    p[2] = (uint8_t)((il - 1) >> 8);
    p[3] = (uint8_t)(il - 1);
    p[4 + il - 1] = 0; /* the cut-off byte now counts as padding: keep it zero */
    ck_assert_int_ne(seal_raw_and_open(p, 512), SP_OK);
    memset(p, 0, 512);
    ck_assert_int_ne(seal_raw_and_open(p, 512), SP_OK);
    /* garbage that is not a SealedContent */
    p[3] = 8;
    memset(p + 4, 0xee, 8);
    ck_assert_int_ne(seal_raw_and_open(p, 512), SP_OK);
    free(p);
    /* the hook itself refuses invalid buckets */
    {
        struct buf out;
        uint8_t q[300] = {0};
        buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
        ck_assert_int_eq(seal_encrypt_padded(&out, a_pub, q, 300), SP_ERR_USAGE);
        ck_assert_int_eq(seal_encrypt_padded(&out, a_pub, q, 128), SP_ERR_USAGE);
        buf_free(&out);
    }
}
END_TEST

START_TEST(too_large_and_bad_inner_rejected_at_seal)
{
    size_t n = ct_len_for_inner(SEAL_MAX_INNER + 1);
    struct wire_sealed_content in;
    struct buf out;
    ck_assert_uint_ne(n, 0);
    in = make_inner(n, 2);
    buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES + 10);
    ck_assert_int_eq(buf_append(&out, (const uint8_t *)"xyz", 3), SP_OK);
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(out.len, 3);
    free(in.ciphertext);
    /* one byte smaller fits the largest bucket exactly */
    in = make_inner(n - 1, 2);
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_OK);
    ck_assert_uint_eq(out.len, 3 + SP_SEAL_OVERHEAD + SP_SEAL_MAX_BUCKET);
    free(in.ciphertext);

    /* inner fields the receiver would refuse */
    out.len = 0;
    in = make_inner(5, 4);
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_ERR_USAGE);
    in.type = 2;
    in.sender_device = 2;
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_ERR_USAGE);
    in.sender_device = SP_DEVICE_ID;
    in.ciphertext_len = 0;
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_ERR_USAGE);
    ck_assert_int_eq(seal_envelope(&out, a_pub, NULL), SP_ERR_USAGE);
    ck_assert_uint_eq(out.len, 0);
    free(in.ciphertext);
    /* an output buffer whose cap is too small */
    buf_free(&out);
    buf_init(&out, 100);
    in = make_inner(5, 3);
    ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(out.len, 0);
    free(in.ciphertext);
    buf_free(&out);
}
END_TEST

/* ---- freshness: no (key, nonce) pair ever repeats */

#define N_SEALS 2000

static int cmp44(const void *a, const void *b)
{
    return memcmp(a, b, 44);
}

static int cmp12(const void *a, const void *b)
{
    return memcmp(a, b, 12);
}

#define ENV_LEN (SP_SEAL_OVERHEAD + 256)
static int cmp_ct(const void *a, const void *b) /* by C || T */
{
    return memcmp((const uint8_t *)a + 33, (const uint8_t *)b + 33, ENV_LEN - 33);
}

static int cmp_eph(const void *a, const void *b) /* by E */
{
    return memcmp((const uint8_t *)a + 1, (const uint8_t *)b + 1, 32);
}

START_TEST(no_key_nonce_reuse)
{
    struct wire_sealed_content in = make_inner(64, 2);
    uint8_t(*kn)[44] = malloc(N_SEALS * sizeof *kn);
    uint8_t(*nonces)[12] = malloc(N_SEALS * sizeof *nonces);
    uint8_t(*env)[ENV_LEN] = malloc(N_SEALS * sizeof *env);
    struct buf out;
    ck_assert(kn != NULL && nonces != NULL && env != NULL);
    buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
    for (size_t i = 0; i < N_SEALS; i++) {
        out.len = 0;
        ck_assert_int_eq(seal_envelope(&out, a_pub, &in), SP_OK);
        ck_assert_uint_eq(out.len, ENV_LEN);
        memcpy(env[i], out.data, out.len);
        ck_assert_int_eq(seal_derive_keys(kn[i], kn[i] + 32, out.data + 1, a_pub, a_priv),
                         SP_OK);
        memcpy(nonces[i], kn[i] + 32, 12);
    }
    /* sorted, so adjacent comparison covers every pair */
    qsort(kn, N_SEALS, sizeof *kn, cmp44);
    qsort(nonces, N_SEALS, sizeof *nonces, cmp12);
    for (size_t i = 1; i < N_SEALS; i++) {
        ck_assert_mem_ne(kn[i - 1], kn[i], 44);         /* (key, nonce) pairs */
        ck_assert_mem_ne(kn[i - 1], kn[i], 32);         /* even the keys alone */
        ck_assert_mem_ne(nonces[i - 1], nonces[i], 12); /* and the nonces alone */
    }
    qsort(env, N_SEALS, sizeof *env, cmp_ct);
    for (size_t i = 1; i < N_SEALS; i++)
        ck_assert_mem_ne(env[i - 1] + 33, env[i] + 33, ENV_LEN - 33);
    qsort(env, N_SEALS, sizeof *env, cmp_eph);
    for (size_t i = 1; i < N_SEALS; i++)
        ck_assert_mem_ne(env[i - 1] + 1, env[i] + 1, 32);
    /* every one of them still opens */
    for (size_t i = 0; i < N_SEALS; i += 97)
        ck_assert_int_eq(open_a(env[i], ENV_LEN), SP_OK);
    buf_free(&out);
    free(kn);
    free(nonces);
    free(env);
    free(in.ciphertext);
}
END_TEST

/* ---- known answers for the primitives as composed here */

/* A prepared identity (seal_identity) opens exactly what the one-shot
 * unseal_envelope opens, and rejects the same tampering with the same status,
 * across many envelopes with one key import. */
START_TEST(prepared_identity_matches_one_shot)
{
    struct seal_identity *id = NULL, *bad = NULL;
    struct wire_sealed_content got, ref;
    uint8_t bad_pub[SP_PUBKEY_LEN];
    memcpy(bad_pub, a_pub, sizeof bad_pub);
    bad_pub[0] = 0;
    ck_assert_int_eq(seal_identity_new(&bad, bad_pub, a_priv), SP_ERR_USAGE);
    ck_assert_ptr_null(bad);
    seal_identity_free(NULL);
    ck_assert_int_eq(seal_identity_new(&id, a_pub, a_priv), SP_OK);
    for (size_t n = 1; n < 600; n += 97) {
        struct buf out;
        seal_n(&out, n);
        ck_assert_int_eq(unseal_envelope_with(&got, id, out.data, out.len), SP_OK);
        ck_assert_int_eq(unseal_envelope(&ref, a_pub, a_priv, out.data, out.len), SP_OK);
        assert_same_inner(&got, &ref);
        wire_sealed_content_free(&got);
        wire_sealed_content_free(&ref);
        for (size_t i = 0; i < out.len; i += 13) {
            out.data[i] ^= 0x20;
            sp_status one = unseal_envelope(&ref, a_pub, a_priv, out.data, out.len);
            ck_assert_int_ne(one, SP_OK);
            ck_assert_int_eq(unseal_envelope_with(&got, id, out.data, out.len), one);
            ck_assert_ptr_null(got.ciphertext);
            out.data[i] ^= 0x20;
        }
        ck_assert_int_eq(unseal_envelope_with(&got, id, out.data, out.len - 1), SP_ERR_MALFORMED);
        buf_free(&out);
    }
    /* another recipient's prepared identity cannot open it */
    seal_identity_free(id);
    ck_assert_int_eq(seal_identity_new(&id, b_pub, b_priv), SP_OK);
    struct buf out;
    seal_n(&out, 50);
    ck_assert_int_eq(unseal_envelope_with(&got, id, out.data, out.len), SP_ERR_DECRYPT);
    buf_free(&out);
    seal_identity_free(id);
}
END_TEST

START_TEST(hkdf_rfc5869_case3_empty_salt)
{
    size_t n;
    uint8_t ikm[22], okm[42];
    uint8_t *want = unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                          "9d201395faa4b61a96c8",
                          &n);
    memset(ikm, 0x0b, sizeof ikm);
    ck_assert_uint_eq(n, 42);
    ck_assert_int_eq(seal_hkdf_sha256(okm, sizeof okm, ikm, sizeof ikm, NULL, 0), SP_OK);
    ck_assert_mem_eq(okm, want, 42);
    ck_assert_int_eq(seal_hkdf_sha256(okm, 0, ikm, sizeof ikm, NULL, 0), SP_ERR_USAGE);
    free(want);
}
END_TEST

START_TEST(x25519_rfc7748_through_derive_keys)
{
    size_t n1, n2, n3, n4;
    uint8_t *alice_priv = unhex(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", &n1);
    uint8_t *alice_pub = unhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", &n2);
    uint8_t *bob_pub = unhex(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", &n3);
    uint8_t *shared = unhex(
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", &n4);
    uint8_t r33[33], info[16 + 1 + 32 + 33], okm[44];
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN];

    r33[0] = SP_PUBKEY_TYPE;
    memcpy(r33 + 1, alice_pub, 32);
    memcpy(info, "sealpost/v1/seal", 16);
    info[16] = 0;
    memcpy(info + 17, bob_pub, 32);
    memcpy(info + 49, r33, 33);
    ck_assert_int_eq(seal_hkdf_sha256(okm, sizeof okm, shared, 32, info, sizeof info), SP_OK);
    ck_assert_int_eq(seal_derive_keys(key, nonce, bob_pub, r33, alice_priv), SP_OK);
    ck_assert_mem_eq(key, okm, 32);
    ck_assert_mem_eq(nonce, okm + 32, 12);
    free(alice_priv);
    free(alice_pub);
    free(bob_pub);
    free(shared);
}
END_TEST

/* docs/PROTOCOL.md appendix A.4: the published worked example. */
START_TEST(protocol_appendix_a4_vector)
{
    size_t n;
    uint8_t *r = unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", &n);
    uint8_t *r33 = unhex("05358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254",
                         &n);
    uint8_t *e_pub = unhex("79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a",
                           &n);
    uint8_t *want_okm = unhex("0bdb86898b56348fb41d1c2d26b0f6e3cdea7e8231d964a34907a25bd6c15206"
                              "7259e69c55ad04de8b7bd272",
                              &n);
    uint8_t *sender = unhex("9ad73d5a938160cda1829643961cef1af491975a", &n);
    size_t clen;
    uint8_t *content = unhex(
        "0179a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a5"
        "1a0d4bce8f72c9d37dda6a920a96a20975534fc5c108a60dcfe94dba28c20bd7"
        "bb8dd4586518b6687d0cdbdb992b80280239982f9de3738c2228cf7091b73e61"
        "a70ed1f4a6b32f80789877d4065bf6e41677d5d039872d86e3b04e67f6726230"
        "78e560e83304daf0cc5ec152f394257ea9324d692a3138e0b0da0395dd075e4e"
        "3f7d55847968aacf8c1fde9c8e04d212120e52a2b83382b7658fb5965d6960d0"
        "428e76da317f60aac9a69cc4f80520e33ac4fe6b58e00bf04dcf43ad118fcd59"
        "735fa20eaadb272204aef3b73741c028e7bbfd5abde546e2d777e02ad32e7280"
        "f30c8614bac2ba2198e662b806cc411143c1fe42ac025eeff39c29adba312f43"
        "1d1c396ddcfba7978307bd606d2931f7d7",
        &clen);
    uint8_t key[SEAL_KEY_LEN], nonce[SEAL_NONCE_LEN], aa[16];
    struct wire_sealed_content got;

    ck_assert_uint_eq(clen, 305);
    ck_assert_int_eq(wire_check_sealed(content, clen), SP_OK);
    ck_assert_int_eq(seal_derive_keys(key, nonce, e_pub, r33, r), SP_OK);
    ck_assert_mem_eq(key, want_okm, 32);
    ck_assert_mem_eq(nonce, want_okm + 32, 12);
    ck_assert_int_eq(unseal_envelope(&got, r33, r, content, clen), SP_OK);
    memset(aa, 0xaa, sizeof aa);
    ck_assert_mem_eq(got.sender, sender, SP_ADDRESS_LEN);
    ck_assert_uint_eq(got.sender_device, 1);
    ck_assert_uint_eq(got.type, 2);
    ck_assert_uint_eq(got.ciphertext_len, 16);
    ck_assert_mem_eq(got.ciphertext, aa, 16);
    wire_sealed_content_free(&got);
    /* the independent opener agrees too */
    {
        uint8_t *inner = NULL;
        size_t il = 0;
        ck_assert_int_eq(ref_open(&inner, &il, content, clen, r33, r), 1);
        ck_assert_uint_eq(il, 46);
        free(inner);
    }
    free(r);
    free(r33);
    free(e_pub);
    free(want_okm);
    free(sender);
    free(content);
}
END_TEST

static Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, roundtrip_bucket_boundaries);
    tcase_add_test(tc, exact_boundary_sizes_exist);
    tcase_add_test(tc, seal_appends_to_out);
    tcase_add_test(tc, independent_opener_agrees);
    tcase_add_test(tc, every_tampered_byte_rejected);
    tcase_add_test(tc, truncated_and_extended_rejected);
    tcase_add_test(tc, wrong_recipient_rejected);
    tcase_add_test(tc, unknown_version_rejected);
    tcase_add_test(tc, low_order_ephemeral_rejected);
    tcase_add_test(tc, low_order_or_untyped_recipient_rejected_at_seal);
    tcase_add_test(tc, padding_and_inner_length_checked);
    tcase_add_test(tc, too_large_and_bad_inner_rejected_at_seal);
    tcase_add_test(tc, no_key_nonce_reuse);
    tcase_add_test(tc, prepared_identity_matches_one_shot);
    tcase_add_test(tc, hkdf_rfc5869_case3_empty_salt);
    tcase_add_test(tc, x25519_rfc7748_through_derive_keys);
    tcase_add_test(tc, protocol_appendix_a4_vector);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(seal_suite());
}
