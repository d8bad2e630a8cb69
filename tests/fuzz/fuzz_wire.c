/*
 * fuzz_wire.c: libFuzzer harness for every decoder of common/wire.
 *
 * The first input byte picks the decoder, the rest is the body. Beyond "no
 * crash, no leak, no UB" it checks one property: whatever a decoder accepts,
 * our encoder can write back and the decoder accepts again with the same
 * values (a validated struct is always re-encodable).
 *
 * Seeds: one valid encoding of every message (our own encoder), behind its
 * selector byte. Built as `fuzz_wire` (libFuzzer) and `fuzz_wire_replay`
 * (fuzz_replay.c); see fuzz_harness.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "fuzz_harness.h"

enum fuzz_wire_target {
    FUZZ_ERROR,
    FUZZ_REGISTER,
    FUZZ_TOKEN_REQUEST,
    FUZZ_REGISTER_RESPONSE,
    FUZZ_TOKEN_RESPONSE,
    FUZZ_PREKEY_COUNT,
    FUZZ_SEND_RESPONSE,
    FUZZ_ACK_RESPONSE,
    FUZZ_LIMITS,
    FUZZ_PREKEY_UPLOAD,
    FUZZ_SIGNED_PREKEY,
    FUZZ_BUNDLE,
    FUZZ_SEND,
    FUZZ_FETCH,
    FUZZ_ACK,
    FUZZ_SEALED_CONTENT,
    FUZZ_CHECK_SEALED,
    FUZZ_WIRE_TARGETS
};

#define REQUIRE FUZZ_REQUIRE

static struct buf out_buf(void)
{
    struct buf b;
    buf_init(&b, 80u * 1024 * 1024);
    return b;
}

static void fuzz_error(const uint8_t *p, size_t n)
{
    struct wire_error a, b;
    struct buf o = out_buf();
    if (wire_decode_error(&a, p, n) != SP_OK)
        return;
    REQUIRE(strlen(a.message) < sizeof a.message);
    REQUIRE(wire_encode_error(&o, &a) == SP_OK);
    REQUIRE(wire_decode_error(&b, o.data, o.len) == SP_OK);
    REQUIRE(b.code == a.code && strcmp(a.message, b.message) == 0);
    buf_free(&o);
}

static void fuzz_register(const uint8_t *p, size_t n)
{
    static struct wire_register a, b;
    struct wire_diag d;
    struct buf pay = out_buf(), o = out_buf();
    if (wire_decode_register(&a, &d, p, n) != SP_OK) {
        REQUIRE(a.payload == NULL && a.n_prekeys == 0);
        return;
    }
    REQUIRE(a.payload != NULL && a.n_prekeys <= SP_HARD_MAX_PREKEYS_PER_UPLOAD);
    REQUIRE(a.identity_key[0] == SP_PUBKEY_TYPE && a.device_id == SP_DEVICE_ID);
    REQUIRE(wire_encode_register_payload(&pay, &a) == SP_OK);
    REQUIRE(wire_encode_signed_proof(&o, pay.data, pay.len, a.signature) == SP_OK);
    REQUIRE(wire_decode_register(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(b.n_prekeys == a.n_prekeys && b.timestamp == a.timestamp);
    REQUIRE(memcmp(b.prekeys, a.prekeys, a.n_prekeys * sizeof a.prekeys[0]) == 0);
    REQUIRE(memcmp(&b.signed_prekey, &a.signed_prekey, sizeof a.signed_prekey) == 0);
    wire_register_free(&a);
    wire_register_free(&b);
    buf_free(&pay);
    buf_free(&o);
}

static void fuzz_token_request(const uint8_t *p, size_t n)
{
    struct wire_token_request a, b;
    struct buf pay = out_buf(), o = out_buf();
    if (wire_decode_token_request(&a, NULL, p, n) != SP_OK)
        return;
    REQUIRE(wire_encode_token_payload(&pay, &a) == SP_OK);
    REQUIRE(wire_encode_signed_proof(&o, pay.data, pay.len, a.signature) == SP_OK);
    REQUIRE(wire_decode_token_request(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(memcmp(a.address, b.address, SP_ADDRESS_LEN) == 0 && a.timestamp == b.timestamp);
    wire_token_request_free(&a);
    wire_token_request_free(&b);
    buf_free(&pay);
    buf_free(&o);
}

static void fuzz_small(const uint8_t *p, size_t n, int which)
{
    struct buf o = out_buf();
    switch (which) {
    case 0: {
        struct wire_register_response a, b;
        if (wire_decode_register_response(&a, p, n) != SP_OK)
            break;
        REQUIRE(wire_encode_register_response(&o, &a) == SP_OK);
        REQUIRE(wire_decode_register_response(&b, o.data, o.len) == SP_OK);
        REQUIRE(memcmp(a.address, b.address, SP_ADDRESS_LEN) == 0 && a.created == b.created);
        break;
    }
    case 1: {
        struct wire_token_response a, b;
        if (wire_decode_token_response(&a, p, n) != SP_OK)
            break;
        REQUIRE(wire_encode_token_response(&o, &a) == SP_OK);
        REQUIRE(wire_decode_token_response(&b, o.data, o.len) == SP_OK);
        REQUIRE(memcmp(&a, &b, sizeof a) == 0);
        break;
    }
    case 2: {
        uint32_t a, b;
        if (wire_decode_prekey_count(&a, p, n) != SP_OK)
            break;
        REQUIRE(wire_encode_prekey_count(&o, a) == SP_OK);
        REQUIRE(wire_decode_prekey_count(&b, o.data, o.len) == SP_OK && a == b);
        break;
    }
    case 3: {
        struct wire_send_response a, b;
        if (wire_decode_send_response(&a, p, n) != SP_OK)
            break;
        REQUIRE(wire_encode_send_response(&o, &a) == SP_OK);
        REQUIRE(wire_decode_send_response(&b, o.data, o.len) == SP_OK);
        REQUIRE(a.stored == b.stored && a.duplicates == b.duplicates);
        break;
    }
    case 4: {
        uint32_t a, b;
        if (wire_decode_ack_response(&a, p, n) != SP_OK)
            break;
        REQUIRE(wire_encode_ack_response(&o, a) == SP_OK);
        REQUIRE(wire_decode_ack_response(&b, o.data, o.len) == SP_OK && a == b);
        break;
    }
    default: {
        struct sp_limits a, b;
        if (wire_decode_limits(&a, p, n) != SP_OK)
            break;
        REQUIRE(sp_limits_validate(&a, NULL) == SP_OK);
        REQUIRE(wire_encode_limits(&o, &a) == SP_OK);
        REQUIRE(wire_decode_limits(&b, o.data, o.len) == SP_OK);
        REQUIRE(memcmp(&a, &b, sizeof a) == 0);
        break;
    }
    }
    buf_free(&o);
}

static void fuzz_prekeys(const uint8_t *p, size_t n, int which)
{
    struct buf o = out_buf();
    struct wire_diag d;
    if (which == 0) {
        static struct wire_prekey_upload a, b;
        if (wire_decode_prekey_upload(&a, &d, p, n) == SP_OK) {
            REQUIRE(a.n >= 1 && a.n <= SP_HARD_MAX_PREKEYS_PER_UPLOAD);
            for (size_t i = 0; i < a.n; i++)
                for (size_t j = 0; j < i; j++)
                    REQUIRE(a.prekeys[i].id != a.prekeys[j].id);
            REQUIRE(wire_encode_prekey_upload(&o, &a) == SP_OK);
            REQUIRE(wire_decode_prekey_upload(&b, NULL, o.data, o.len) == SP_OK);
            REQUIRE(memcmp(&a, &b, sizeof a) == 0);
        }
    } else if (which == 1) {
        struct wire_signed_prekey a, b;
        if (wire_decode_signed_prekey(&a, &d, p, n) == SP_OK) {
            REQUIRE(wire_encode_signed_prekey(&o, &a) == SP_OK);
            REQUIRE(wire_decode_signed_prekey(&b, NULL, o.data, o.len) == SP_OK);
            REQUIRE(memcmp(&a, &b, sizeof a) == 0);
        }
    } else {
        struct wire_bundle a, b;
        if (wire_decode_bundle(&a, &d, p, n) == SP_OK) {
            REQUIRE(wire_encode_bundle(&o, &a) == SP_OK);
            REQUIRE(wire_decode_bundle(&b, NULL, o.data, o.len) == SP_OK);
            REQUIRE(memcmp(&a.signed_prekey, &b.signed_prekey, sizeof a.signed_prekey) == 0);
            REQUIRE(a.has_prekey == b.has_prekey && a.registration_id == b.registration_id);
        }
    }
    buf_free(&o);
}

static void fuzz_send(const uint8_t *p, size_t n)
{
    struct wire_send a, b;
    struct wire_diag d;
    struct buf o = out_buf();
    if (wire_decode_send(&a, &d, p, n) != SP_OK) {
        REQUIRE(a.envelopes == NULL && a.storage == NULL && a.n == 0);
        return;
    }
    REQUIRE(a.n >= 1 && a.n <= SP_HARD_MAX_ENVELOPES_PER_REQ);
    for (size_t i = 0; i < a.n; i++)
        REQUIRE(wire_check_sealed(a.envelopes[i].content, a.envelopes[i].content_len) == SP_OK);
    REQUIRE(wire_encode_send(&o, a.envelopes, a.n) == SP_OK);
    REQUIRE(wire_decode_send(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(b.n == a.n);
    for (size_t i = 0; i < a.n; i++)
        REQUIRE(b.envelopes[i].content_len == a.envelopes[i].content_len &&
                memcmp(b.envelopes[i].content, a.envelopes[i].content,
                       a.envelopes[i].content_len) == 0);
    wire_send_free(&a);
    wire_send_free(&b);
    buf_free(&o);
}

static void fuzz_fetch(const uint8_t *p, size_t n)
{
    struct wire_fetch a, b;
    struct wire_diag d;
    struct buf o = out_buf();
    if (wire_decode_fetch(&a, &d, p, n) != SP_OK)
        return;
    REQUIRE(a.n <= SP_HARD_MAX_FETCH_ENVELOPES);
    REQUIRE(wire_encode_fetch(&o, a.envelopes, a.n, a.cursor, a.more) == SP_OK);
    REQUIRE(wire_decode_fetch(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(b.n == a.n && b.cursor == a.cursor && b.more == a.more);
    wire_fetch_free(&a);
    wire_fetch_free(&b);
    buf_free(&o);
}

static void fuzz_ack(const uint8_t *p, size_t n)
{
    struct wire_ack a, b;
    struct wire_diag d;
    struct buf o = out_buf();
    if (wire_decode_ack(&a, &d, p, n) != SP_OK)
        return;
    REQUIRE(wire_encode_ack(&o, (const uint8_t(*)[SP_MESSAGE_ID_LEN])a.ids, a.n) == SP_OK);
    REQUIRE(wire_decode_ack(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(b.n == a.n && memcmp(a.ids, b.ids, a.n * SP_MESSAGE_ID_LEN) == 0);
    wire_ack_free(&a);
    wire_ack_free(&b);
    buf_free(&o);
}

static void fuzz_sealed_content(const uint8_t *p, size_t n)
{
    struct wire_sealed_content a, b;
    struct wire_diag d;
    struct buf o = out_buf();
    if (wire_decode_sealed_content(&a, &d, p, n) != SP_OK)
        return;
    REQUIRE(wire_encode_sealed_content(&o, &a) == SP_OK);
    REQUIRE(wire_decode_sealed_content(&b, NULL, o.data, o.len) == SP_OK);
    REQUIRE(a.ciphertext_len == b.ciphertext_len &&
            memcmp(a.ciphertext, b.ciphertext, a.ciphertext_len) == 0);
    wire_sealed_content_free(&a);
    wire_sealed_content_free(&b);
    buf_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % FUZZ_WIRE_TARGETS) {
    case FUZZ_ERROR:
        fuzz_error(p, n);
        break;
    case FUZZ_REGISTER:
        fuzz_register(p, n);
        break;
    case FUZZ_TOKEN_REQUEST:
        fuzz_token_request(p, n);
        break;
    case FUZZ_REGISTER_RESPONSE:
        fuzz_small(p, n, 0);
        break;
    case FUZZ_TOKEN_RESPONSE:
        fuzz_small(p, n, 1);
        break;
    case FUZZ_PREKEY_COUNT:
        fuzz_small(p, n, 2);
        break;
    case FUZZ_SEND_RESPONSE:
        fuzz_small(p, n, 3);
        break;
    case FUZZ_ACK_RESPONSE:
        fuzz_small(p, n, 4);
        break;
    case FUZZ_LIMITS:
        fuzz_small(p, n, 5);
        break;
    case FUZZ_PREKEY_UPLOAD:
        fuzz_prekeys(p, n, 0);
        break;
    case FUZZ_SIGNED_PREKEY:
        fuzz_prekeys(p, n, 1);
        break;
    case FUZZ_BUNDLE:
        fuzz_prekeys(p, n, 2);
        break;
    case FUZZ_SEND:
        fuzz_send(p, n);
        break;
    case FUZZ_FETCH:
        fuzz_fetch(p, n);
        break;
    case FUZZ_ACK:
        fuzz_ack(p, n);
        break;
    case FUZZ_SEALED_CONTENT:
        fuzz_sealed_content(p, n);
        break;
    default:
        if (wire_check_sealed(n > 0 ? p : NULL, n) == SP_OK)
            REQUIRE(p[0] == SP_SEAL_VERSION && n >= SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET &&
                    n <= SP_HARD_MAX_ENVELOPE_BYTES);
        break;
    }
    return 0;
}

/* ---- seeds */

static void seed_die(const char *what)
{
    fuzz_fail(what, __FILE__, __LINE__);
}

static void key(uint8_t k[static SP_PUBKEY_LEN], uint8_t v)
{
    k[0] = SP_PUBKEY_TYPE;
    memset(k + 1, v, SP_PUBKEY_LEN - 1);
}

static void wire_seeds(struct fuzz_seeds *s)
{
    static uint8_t sealed_a[SP_SEAL_OVERHEAD + 256], sealed_b[SP_SEAL_OVERHEAD + 512];
    static struct wire_register reg;
    static struct wire_prekey_upload up;
    static const uint8_t sig[SP_SIGNATURE_LEN] = {1, 2, 3};
    struct buf b, pay;

    buf_init(&b, (1u << 20));
    buf_init(&pay, (1u << 20));
    memset(sealed_a, 0x11, sizeof sealed_a);
    memset(sealed_b, 0x22, sizeof sealed_b);
    sealed_a[0] = sealed_b[0] = SP_SEAL_VERSION;

#define SEED(target, expr)                                                                         \
    do {                                                                                           \
        buf_reset(&b);                                                                             \
        if ((expr) != SP_OK)                                                                       \
            seed_die("seed encoding failed: " #target);                                            \
        fuzz_seed_add_sel(s, target, b.data, b.len);                                               \
    } while (0)

    {
        struct wire_error e = {.code = SP_ERR_TOO_MANY,
                               .retry_after_s = 2,
                               .has_index = true,
                               .index = 4,
                               .has_remaining = true,
                               .remaining = 1};
        strcpy(e.message, "too many items");
        SEED(FUZZ_ERROR, wire_encode_error(&b, &e));
    }
    key(reg.identity_key, 1);
    reg.registration_id = 4242;
    reg.device_id = SP_DEVICE_ID;
    reg.signed_prekey.id = 5;
    key(reg.signed_prekey.public_key, 2);
    memset(reg.signed_prekey.signature, 3, SP_SIGNATURE_LEN);
    reg.n_prekeys = 4;
    for (size_t i = 0; i < 4; i++) {
        reg.prekeys[i].id = (uint32_t)(100 + i);
        key(reg.prekeys[i].public_key, (uint8_t)(10 + i));
    }
    reg.timestamp = 1700000000;
    memset(reg.nonce, 4, SP_NONCE_LEN);
    buf_reset(&pay);
    if (wire_encode_register_payload(&pay, &reg) != SP_OK)
        seed_die("register payload");
    SEED(FUZZ_REGISTER, wire_encode_signed_proof(&b, pay.data, pay.len, sig));
    {
        struct wire_token_request t = {.timestamp = 1700000001};
        memset(t.address, 5, SP_ADDRESS_LEN);
        memset(t.nonce, 6, SP_NONCE_LEN);
        buf_reset(&pay);
        if (wire_encode_token_payload(&pay, &t) != SP_OK)
            seed_die("token payload");
        SEED(FUZZ_TOKEN_REQUEST, wire_encode_signed_proof(&b, pay.data, pay.len, sig));
    }
    {
        struct wire_register_response r = {.created = true};
        struct wire_token_response t = {.expires_at = 1700003600};
        struct wire_send_response sr = {.stored = 3, .duplicates = 1};
        struct sp_limits l;
        memset(r.address, 7, SP_ADDRESS_LEN);
        memset(t.token, 8, SP_TOKEN_LEN);
        sp_limits_defaults(&l);
        SEED(FUZZ_REGISTER_RESPONSE, wire_encode_register_response(&b, &r));
        SEED(FUZZ_TOKEN_RESPONSE, wire_encode_token_response(&b, &t));
        SEED(FUZZ_PREKEY_COUNT, wire_encode_prekey_count(&b, 17));
        SEED(FUZZ_SEND_RESPONSE, wire_encode_send_response(&b, &sr));
        SEED(FUZZ_ACK_RESPONSE, wire_encode_ack_response(&b, 2));
        SEED(FUZZ_LIMITS, wire_encode_limits(&b, &l));
    }
    up.n = reg.n_prekeys;
    memcpy(up.prekeys, reg.prekeys, sizeof up.prekeys);
    SEED(FUZZ_PREKEY_UPLOAD, wire_encode_prekey_upload(&b, &up));
    SEED(FUZZ_SIGNED_PREKEY, wire_encode_signed_prekey(&b, &reg.signed_prekey));
    {
        struct wire_bundle bu = {.registration_id = 4242,
                                 .device_id = SP_DEVICE_ID,
                                 .signed_prekey = reg.signed_prekey,
                                 .has_prekey = true,
                                 .prekey = reg.prekeys[0]};
        memcpy(bu.identity_key, reg.identity_key, SP_PUBKEY_LEN);
        SEED(FUZZ_BUNDLE, wire_encode_bundle(&b, &bu));
        bu.has_prekey = false;
        SEED(FUZZ_BUNDLE, wire_encode_bundle(&b, &bu));
    }
    {
        struct wire_out_envelope o[2] = {{.content = sealed_a, .content_len = sizeof sealed_a},
                                         {.content = sealed_b, .content_len = sizeof sealed_b}};
        struct wire_envelope e[2] = {
            {.content = sealed_a, .content_len = sizeof sealed_a, .received_hour = 3600},
            {.content = sealed_b, .content_len = sizeof sealed_b, .received_hour = 7200}};
        uint8_t ids[2][SP_MESSAGE_ID_LEN];
        memset(o[0].recipient, 9, SP_ADDRESS_LEN);
        memset(o[1].recipient, 10, SP_ADDRESS_LEN);
        memset(ids, 11, sizeof ids);
        ids[1][0] = 12;
        SEED(FUZZ_SEND, wire_encode_send(&b, o, 2));
        SEED(FUZZ_FETCH, wire_encode_fetch(&b, e, 2, 99, true));
        SEED(FUZZ_FETCH, wire_encode_fetch(&b, NULL, 0, 0, false));
        SEED(FUZZ_ACK, wire_encode_ack(&b, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 2));
        buf_reset(&b);
        if (buf_append(&b, sealed_a, sizeof sealed_a) != SP_OK)
            seed_die("sealed seed");
        fuzz_seed_add_sel(s, FUZZ_CHECK_SEALED, b.data, b.len);
    }
    {
        uint8_t ct[64];
        memset(ct, 13, sizeof ct);
        struct wire_sealed_content c = {.sender_device = SP_DEVICE_ID,
                                        .type = 2,
                                        .ciphertext = ct,
                                        .ciphertext_len = sizeof ct};
        memset(c.sender, 14, SP_ADDRESS_LEN);
        SEED(FUZZ_SEALED_CONTENT, wire_encode_sealed_content(&b, &c));
    }
#undef SEED
    buf_free(&b);
    buf_free(&pay);
}

/* Bytes that matter to protobuf: tags of fields 1..9 in each wire type,
 * varint continuation, lengths around our key sizes, the key type byte. */
static const uint8_t wire_interesting[] = {0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x10, 0x12, 0x15,
                                           0x18, 0x1a, 0x20, 0x21, 0x22, 0x2a, 0x32, 0x3a, 0x42,
                                           0x4a, 0x7f, 0x80, 0xff, 0x0f, 0x10, 0x14, 0x40, 0x41};

const struct fuzz_target fuzz_target = {
    .name = "wire",
    .seeds = wire_seeds,
    .iterations = 500000,
    .selectors = FUZZ_WIRE_TARGETS,
    .interesting = wire_interesting,
    .n_interesting = sizeof wire_interesting,
    .max_len = 8192,
};
