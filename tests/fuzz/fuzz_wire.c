/*
 * fuzz_wire.c: libFuzzer harness for every decoder of common/wire.
 *
 * The first input byte picks the decoder, the rest is the body. Beyond "no
 * crash, no leak, no UB" it checks one property: whatever a decoder accepts,
 * our encoder can write back and the decoder accepts again with the same
 * values (a validated struct is always re-encodable).
 *
 * Built as `fuzz_wire` with -fsanitize=fuzzer (clang, SEALPOST_FUZZ=ON) and,
 * always, linked into `fuzz_wire_replay` (fuzz_replay.c), which runs it over
 * deterministic mutations in ctest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "fuzz_wire.h"

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

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
    case FUZZ_ERROR: fuzz_error(p, n); break;
    case FUZZ_REGISTER: fuzz_register(p, n); break;
    case FUZZ_TOKEN_REQUEST: fuzz_token_request(p, n); break;
    case FUZZ_REGISTER_RESPONSE: fuzz_small(p, n, 0); break;
    case FUZZ_TOKEN_RESPONSE: fuzz_small(p, n, 1); break;
    case FUZZ_PREKEY_COUNT: fuzz_small(p, n, 2); break;
    case FUZZ_SEND_RESPONSE: fuzz_small(p, n, 3); break;
    case FUZZ_ACK_RESPONSE: fuzz_small(p, n, 4); break;
    case FUZZ_LIMITS: fuzz_small(p, n, 5); break;
    case FUZZ_PREKEY_UPLOAD: fuzz_prekeys(p, n, 0); break;
    case FUZZ_SIGNED_PREKEY: fuzz_prekeys(p, n, 1); break;
    case FUZZ_BUNDLE: fuzz_prekeys(p, n, 2); break;
    case FUZZ_SEND: fuzz_send(p, n); break;
    case FUZZ_FETCH: fuzz_fetch(p, n); break;
    case FUZZ_ACK: fuzz_ack(p, n); break;
    case FUZZ_SEALED_CONTENT: fuzz_sealed_content(p, n); break;
    default:
        if (wire_check_sealed(n > 0 ? p : NULL, n) == SP_OK)
            REQUIRE(p[0] == SP_SEAL_VERSION && n >= SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET &&
                    n <= SP_HARD_MAX_ENVELOPE_BYTES);
        break;
    }
    return 0;
}
