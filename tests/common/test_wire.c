/*
 * test_wire.c: common/wire round trips and negative tests.
 *
 * Valid messages come from our encoders; malformed-but-parseable ones are
 * built with the generated protobuf-c API so each missing or wrong field can
 * be produced on its own. Every decoder also gets every truncation of a valid
 * message and an oversized input (run under ASan to catch leaks).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "sealpost.pb-c.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static void fill_key(uint8_t k[static SP_PUBKEY_LEN], uint8_t seed)
{
    k[0] = SP_PUBKEY_TYPE;
    memset(k + 1, seed, SP_PUBKEY_LEN - 1);
}

static uint8_t *pb_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(protobuf_c_message_pack(m, p), *len);
    return p;
}

static ProtobufCBinaryData bd(uint8_t *p, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = p};
}

/* SignedProof{payload, signature of sig_len bytes} around raw payload bytes. */
static uint8_t *pb_proof(const uint8_t *payload, size_t plen, bool has_payload, size_t sig_len,
                         size_t *len)
{
    static uint8_t sig[128];
    Sealpost__V1__SignedProof m = SEALPOST__V1__SIGNED_PROOF__INIT;
    memset(sig, 0xab, sizeof sig);
    m.has_payload = has_payload;
    m.payload = bd((uint8_t *)(uintptr_t)payload, plen);
    m.has_signature = sig_len > 0;
    m.signature = bd(sig, sig_len);
    return pb_pack(&m.base, len);
}

static void assert_diag(const struct wire_diag *d, const char *field, int index)
{
    if (field == NULL)
        ck_assert_ptr_null(d->field);
    else {
        ck_assert_ptr_nonnull(d->field);
        ck_assert_str_eq(d->field, field);
    }
    ck_assert_int_eq(d->index, index);
}

/* ---- decode-and-free wrappers, one per decoder (for truncation/oversize) */

static sp_status d_error(const uint8_t *p, size_t n)
{
    struct wire_error e;
    return wire_decode_error(&e, p, n);
}
static sp_status d_register(const uint8_t *p, size_t n)
{
    struct wire_register r;
    struct wire_diag d;
    sp_status st = wire_decode_register(&r, &d, p, n);
    if (st != SP_OK)
        ck_assert_ptr_null(r.payload);
    wire_register_free(&r);
    return st;
}
static sp_status d_token_request(const uint8_t *p, size_t n)
{
    struct wire_token_request r;
    struct wire_diag d;
    sp_status st = wire_decode_token_request(&r, &d, p, n);
    if (st != SP_OK)
        ck_assert_ptr_null(r.payload);
    wire_token_request_free(&r);
    return st;
}
static sp_status d_register_response(const uint8_t *p, size_t n)
{
    struct wire_register_response r;
    return wire_decode_register_response(&r, p, n);
}
static sp_status d_token_response(const uint8_t *p, size_t n)
{
    struct wire_token_response r;
    return wire_decode_token_response(&r, p, n);
}
static sp_status d_prekey_upload(const uint8_t *p, size_t n)
{
    struct wire_prekey_upload u;
    struct wire_diag d;
    return wire_decode_prekey_upload(&u, &d, p, n);
}
static sp_status d_prekey_count(const uint8_t *p, size_t n)
{
    uint32_t c;
    return wire_decode_prekey_count(&c, p, n);
}
static sp_status d_signed_prekey(const uint8_t *p, size_t n)
{
    struct wire_signed_prekey k;
    struct wire_diag d;
    return wire_decode_signed_prekey(&k, &d, p, n);
}
static sp_status d_bundle(const uint8_t *p, size_t n)
{
    struct wire_bundle b;
    struct wire_diag d;
    return wire_decode_bundle(&b, &d, p, n);
}
static sp_status d_send(const uint8_t *p, size_t n)
{
    struct wire_send s;
    struct wire_diag d;
    sp_status st = wire_decode_send(&s, &d, p, n);
    if (st != SP_OK)
        ck_assert(s.n == 0 && s.envelopes == NULL && s.storage == NULL);
    wire_send_free(&s);
    return st;
}
static sp_status d_send_response(const uint8_t *p, size_t n)
{
    struct wire_send_response r;
    return wire_decode_send_response(&r, p, n);
}
static sp_status d_fetch(const uint8_t *p, size_t n)
{
    struct wire_fetch f;
    struct wire_diag d;
    sp_status st = wire_decode_fetch(&f, &d, p, n);
    if (st != SP_OK)
        ck_assert(f.n == 0 && f.envelopes == NULL && f.storage == NULL);
    wire_fetch_free(&f);
    return st;
}
static sp_status d_ack(const uint8_t *p, size_t n)
{
    struct wire_ack a;
    struct wire_diag d;
    sp_status st = wire_decode_ack(&a, &d, p, n);
    if (st != SP_OK)
        ck_assert(a.n == 0 && a.ids == NULL);
    wire_ack_free(&a);
    return st;
}
static sp_status d_ack_response(const uint8_t *p, size_t n)
{
    uint32_t x;
    return wire_decode_ack_response(&x, p, n);
}
static sp_status d_limits(const uint8_t *p, size_t n)
{
    struct sp_limits l;
    return wire_decode_limits(&l, p, n);
}
static sp_status d_sealed_content(const uint8_t *p, size_t n)
{
    struct wire_sealed_content c;
    struct wire_diag d;
    sp_status st = wire_decode_sealed_content(&c, &d, p, n);
    if (st != SP_OK)
        ck_assert_ptr_null(c.ciphertext);
    wire_sealed_content_free(&c);
    return st;
}

/* ---- valid values */

static uint8_t sealed_305[SP_SEAL_OVERHEAD + 256];
static uint8_t sealed_561[SP_SEAL_OVERHEAD + 512];

static void init_sealed(void)
{
    memset(sealed_305, 0x5a, sizeof sealed_305);
    memset(sealed_561, 0xa5, sizeof sealed_561);
    sealed_305[0] = sealed_561[0] = SP_SEAL_VERSION;
}

static void make_register(struct wire_register *r, size_t n_prekeys)
{
    memset(r, 0, sizeof *r);
    fill_key(r->identity_key, 0x11);
    r->registration_id = 12345;
    r->device_id = SP_DEVICE_ID;
    r->signed_prekey.id = 7;
    fill_key(r->signed_prekey.public_key, 0x22);
    memset(r->signed_prekey.signature, 0x33, SP_SIGNATURE_LEN);
    r->n_prekeys = n_prekeys;
    for (size_t i = 0; i < n_prekeys; i++) {
        r->prekeys[i].id = (uint32_t)(i + 1);
        fill_key(r->prekeys[i].public_key, (uint8_t)(0x40 + i));
    }
    r->timestamp = 1700000000;
    memset(r->nonce, 0x44, SP_NONCE_LEN);
}

static void make_bundle(struct wire_bundle *b, bool has_prekey)
{
    memset(b, 0, sizeof *b);
    fill_key(b->identity_key, 0x01);
    b->registration_id = SP_MAX_REGISTRATION_ID;
    b->device_id = SP_DEVICE_ID;
    b->signed_prekey.id = SP_MAX_KEY_ID;
    fill_key(b->signed_prekey.public_key, 0x02);
    memset(b->signed_prekey.signature, 0x03, SP_SIGNATURE_LEN);
    b->has_prekey = has_prekey;
    b->prekey.id = 1;
    fill_key(b->prekey.public_key, 0x04);
}

static struct buf enc(void)
{
    struct buf b;
    buf_init(&b, 64u * 1024 * 1024);
    return b;
}

/* Valid encoding number `which` for the generic tests; returns its decoder. */
enum { V_ERROR, V_REGISTER, V_TOKEN, V_REG_RESP, V_TOK_RESP, V_UPLOAD, V_COUNT, V_SPK, V_BUNDLE,
       V_SEND, V_SEND_RESP, V_FETCH, V_ACK, V_ACK_RESP, V_LIMITS, V_SEALED, V_N };

static sp_status (*const decoders[V_N])(const uint8_t *, size_t) = {
    d_error,  d_register,    d_token_request, d_register_response, d_token_response,
    d_prekey_upload, d_prekey_count, d_signed_prekey, d_bundle, d_send, d_send_response,
    d_fetch,  d_ack,         d_ack_response,  d_limits,            d_sealed_content};

static void encode_valid(struct buf *b, int which)
{
    static const uint8_t sig[SP_SIGNATURE_LEN] = {9};
    struct buf payload = enc();
    switch (which) {
    case V_ERROR: {
        struct wire_error e = {.code = SP_ERR_RATE_LIMITED, .retry_after_s = 30,
                               .has_index = true, .index = 3, .has_remaining = true};
        strcpy(e.message, "slow down");
        ck_assert_int_eq(wire_encode_error(b, &e), SP_OK);
        break;
    }
    case V_REGISTER: {
        static struct wire_register r;
        make_register(&r, 5);
        ck_assert_int_eq(wire_encode_register_payload(&payload, &r), SP_OK);
        ck_assert_int_eq(wire_encode_signed_proof(b, payload.data, payload.len, sig), SP_OK);
        break;
    }
    case V_TOKEN: {
        struct wire_token_request t = {.timestamp = 99};
        memset(t.address, 0x77, SP_ADDRESS_LEN);
        memset(t.nonce, 0x78, SP_NONCE_LEN);
        ck_assert_int_eq(wire_encode_token_payload(&payload, &t), SP_OK);
        ck_assert_int_eq(wire_encode_signed_proof(b, payload.data, payload.len, sig), SP_OK);
        break;
    }
    case V_REG_RESP: {
        struct wire_register_response r = {.created = true};
        memset(r.address, 0x12, SP_ADDRESS_LEN);
        ck_assert_int_eq(wire_encode_register_response(b, &r), SP_OK);
        break;
    }
    case V_TOK_RESP: {
        struct wire_token_response r = {.expires_at = 1700003600};
        memset(r.token, 0x13, SP_TOKEN_LEN);
        ck_assert_int_eq(wire_encode_token_response(b, &r), SP_OK);
        break;
    }
    case V_UPLOAD: {
        static struct wire_register r;
        static struct wire_prekey_upload u;
        make_register(&r, 4);
        u.n = 4;
        memcpy(u.prekeys, r.prekeys, sizeof u.prekeys);
        ck_assert_int_eq(wire_encode_prekey_upload(b, &u), SP_OK);
        break;
    }
    case V_COUNT:
        ck_assert_int_eq(wire_encode_prekey_count(b, 42), SP_OK);
        break;
    case V_SPK: {
        struct wire_bundle bb;
        make_bundle(&bb, false);
        ck_assert_int_eq(wire_encode_signed_prekey(b, &bb.signed_prekey), SP_OK);
        break;
    }
    case V_BUNDLE: {
        struct wire_bundle bb;
        make_bundle(&bb, true);
        ck_assert_int_eq(wire_encode_bundle(b, &bb), SP_OK);
        break;
    }
    case V_SEND: {
        struct wire_out_envelope e[2] = {{.content = sealed_305, .content_len = sizeof sealed_305},
                                         {.content = sealed_561, .content_len = sizeof sealed_561}};
        memset(e[0].recipient, 1, SP_ADDRESS_LEN);
        memset(e[1].recipient, 2, SP_ADDRESS_LEN);
        memset(e[0].message_id, 3, SP_MESSAGE_ID_LEN);
        memset(e[1].message_id, 4, SP_MESSAGE_ID_LEN);
        ck_assert_int_eq(wire_encode_send(b, e, 2), SP_OK);
        break;
    }
    case V_SEND_RESP: {
        struct wire_send_response r = {.stored = 2, .duplicates = 1};
        ck_assert_int_eq(wire_encode_send_response(b, &r), SP_OK);
        break;
    }
    case V_FETCH: {
        struct wire_envelope e[2] = {
            {.content = sealed_561, .content_len = sizeof sealed_561, .received_hour = 3600},
            {.content = sealed_305, .content_len = sizeof sealed_305, .received_hour = 7200}};
        memset(e[0].message_id, 5, SP_MESSAGE_ID_LEN);
        memset(e[1].message_id, 6, SP_MESSAGE_ID_LEN);
        ck_assert_int_eq(wire_encode_fetch(b, e, 2, 77, true), SP_OK);
        break;
    }
    case V_ACK: {
        uint8_t ids[3][SP_MESSAGE_ID_LEN];
        memset(ids, 0x31, sizeof ids);
        ids[1][0] = 2;
        ck_assert_int_eq(wire_encode_ack(b, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 3), SP_OK);
        break;
    }
    case V_ACK_RESP:
        ck_assert_int_eq(wire_encode_ack_response(b, 3), SP_OK);
        break;
    case V_LIMITS: {
        struct sp_limits l;
        sp_limits_defaults(&l);
        ck_assert_int_eq(wire_encode_limits(b, &l), SP_OK);
        break;
    }
    case V_SEALED: {
        uint8_t ct[100];
        memset(ct, 0x66, sizeof ct);
        struct wire_sealed_content c = {.sender_device = SP_DEVICE_ID, .type = 3,
                                        .ciphertext = ct, .ciphertext_len = sizeof ct};
        memset(c.sender, 0x55, SP_ADDRESS_LEN);
        ck_assert_int_eq(wire_encode_sealed_content(b, &c), SP_OK);
        break;
    }
    default:
        ck_abort();
    }
    buf_free(&payload);
}

/* ---------------------------------------------------------------- round trips */

START_TEST(test_roundtrip_error)
{
    struct buf b = enc();
    struct wire_error in = {.code = SP_ERR_MAILBOX_FULL, .retry_after_s = 5, .has_index = true,
                            .index = 17, .has_remaining = true, .remaining = 0};
    struct wire_error out;
    strcpy(in.message, "recipient mailbox is full");
    ck_assert_int_eq(wire_encode_error(&b, &in), SP_OK);
    ck_assert_int_eq(wire_decode_error(&out, b.data, b.len), SP_OK);
    ck_assert_int_eq(out.code, SP_ERR_MAILBOX_FULL);
    ck_assert_str_eq(out.message, in.message);
    ck_assert_uint_eq(out.retry_after_s, 5);
    ck_assert(out.has_index && out.index == 17);
    ck_assert(out.has_remaining && out.remaining == 0);

    /* Optional parts absent. */
    buf_reset(&b);
    in = (struct wire_error){.code = SP_ERR_NOT_FOUND};
    ck_assert_int_eq(wire_encode_error(&b, &in), SP_OK);
    ck_assert_int_eq(wire_decode_error(&out, b.data, b.len), SP_OK);
    ck_assert(!out.has_index && !out.has_remaining && out.retry_after_s == 0);
    ck_assert_str_eq(out.message, "");
    buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_register)
{
    struct buf payload = enc(), body = enc();
    static struct wire_register in, out;
    uint8_t sig[SP_SIGNATURE_LEN];
    struct wire_diag d;
    memset(sig, 0xee, sizeof sig);
    make_register(&in, SP_HARD_MAX_PREKEYS_PER_UPLOAD);
    in.prekeys[99].id = SP_MAX_KEY_ID;
    ck_assert_int_eq(wire_encode_register_payload(&payload, &in), SP_OK);
    ck_assert_int_eq(wire_encode_signed_proof(&body, payload.data, payload.len, sig), SP_OK);
    ck_assert_int_eq(wire_decode_register(&out, &d, body.data, body.len), SP_OK);
    assert_diag(&d, NULL, -1);
    ck_assert_mem_eq(out.identity_key, in.identity_key, SP_PUBKEY_LEN);
    ck_assert_uint_eq(out.registration_id, in.registration_id);
    ck_assert_uint_eq(out.device_id, SP_DEVICE_ID);
    ck_assert_uint_eq(out.signed_prekey.id, in.signed_prekey.id);
    ck_assert_mem_eq(out.signed_prekey.public_key, in.signed_prekey.public_key, SP_PUBKEY_LEN);
    ck_assert_mem_eq(out.signed_prekey.signature, in.signed_prekey.signature, SP_SIGNATURE_LEN);
    ck_assert_uint_eq(out.n_prekeys, SP_HARD_MAX_PREKEYS_PER_UPLOAD);
    ck_assert_mem_eq(out.prekeys, in.prekeys, sizeof in.prekeys);
    ck_assert_uint_eq(out.timestamp, in.timestamp);
    ck_assert_mem_eq(out.nonce, in.nonce, SP_NONCE_LEN);
    /* The exact signed bytes and the signature are handed to the caller. */
    ck_assert_uint_eq(out.payload_len, payload.len);
    ck_assert_mem_eq(out.payload, payload.data, payload.len);
    ck_assert_mem_eq(out.signature, sig, SP_SIGNATURE_LEN);
    wire_register_free(&out);
    wire_register_free(&out); /* idempotent */
    ck_assert_ptr_null(out.payload);

    /* Zero one-time prekeys is fine for register. */
    buf_reset(&payload);
    buf_reset(&body);
    make_register(&in, 0);
    ck_assert_int_eq(wire_encode_register_payload(&payload, &in), SP_OK);
    ck_assert_int_eq(wire_encode_signed_proof(&body, payload.data, payload.len, sig), SP_OK);
    ck_assert_int_eq(wire_decode_register(&out, NULL, body.data, body.len), SP_OK);
    ck_assert_uint_eq(out.n_prekeys, 0);
    wire_register_free(&out);

    /* Encoder refuses an out-of-bounds count. */
    in.n_prekeys = SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1;
    ck_assert_int_eq(wire_encode_register_payload(&payload, &in), SP_ERR_USAGE);
    buf_free(&payload);
    buf_free(&body);
}
END_TEST

START_TEST(test_roundtrip_token)
{
    struct buf payload = enc(), body = enc();
    struct wire_token_request in = {.timestamp = 1700000123}, out;
    uint8_t sig[SP_SIGNATURE_LEN];
    memset(sig, 0x5e, sizeof sig);
    memset(in.address, 0xa1, SP_ADDRESS_LEN);
    memset(in.nonce, 0xa2, SP_NONCE_LEN);
    ck_assert_int_eq(wire_encode_token_payload(&payload, &in), SP_OK);
    ck_assert_int_eq(wire_encode_signed_proof(&body, payload.data, payload.len, sig), SP_OK);
    ck_assert_int_eq(wire_decode_token_request(&out, NULL, body.data, body.len), SP_OK);
    ck_assert_mem_eq(out.address, in.address, SP_ADDRESS_LEN);
    ck_assert_mem_eq(out.nonce, in.nonce, SP_NONCE_LEN);
    ck_assert_uint_eq(out.timestamp, in.timestamp);
    ck_assert_uint_eq(out.payload_len, payload.len);
    ck_assert_mem_eq(out.payload, payload.data, payload.len);
    ck_assert_mem_eq(out.signature, sig, SP_SIGNATURE_LEN);
    wire_token_request_free(&out);
    wire_token_request_free(NULL);
    buf_free(&payload);
    buf_free(&body);
}
END_TEST

START_TEST(test_roundtrip_responses)
{
    struct buf b = enc();
    struct wire_register_response rr = {.created = true}, rr2;
    struct wire_token_response tr = {.expires_at = 1700007200}, tr2;
    struct wire_send_response sr = {.stored = 1000, .duplicates = 3}, sr2;
    uint32_t x = 1;

    memset(rr.address, 0x9c, SP_ADDRESS_LEN);
    ck_assert_int_eq(wire_encode_register_response(&b, &rr), SP_OK);
    ck_assert_int_eq(wire_decode_register_response(&rr2, b.data, b.len), SP_OK);
    ck_assert_mem_eq(rr2.address, rr.address, SP_ADDRESS_LEN);
    ck_assert(rr2.created);
    rr.created = false;
    buf_reset(&b);
    ck_assert_int_eq(wire_encode_register_response(&b, &rr), SP_OK);
    ck_assert_int_eq(wire_decode_register_response(&rr2, b.data, b.len), SP_OK);
    ck_assert(!rr2.created);

    memset(tr.token, 0x7e, SP_TOKEN_LEN);
    buf_reset(&b);
    ck_assert_int_eq(wire_encode_token_response(&b, &tr), SP_OK);
    ck_assert_int_eq(wire_decode_token_response(&tr2, b.data, b.len), SP_OK);
    ck_assert_mem_eq(tr2.token, tr.token, SP_TOKEN_LEN);
    ck_assert_uint_eq(tr2.expires_at, tr.expires_at);

    buf_reset(&b);
    ck_assert_int_eq(wire_encode_send_response(&b, &sr), SP_OK);
    ck_assert_int_eq(wire_decode_send_response(&sr2, b.data, b.len), SP_OK);
    ck_assert(sr2.stored == 1000 && sr2.duplicates == 3);

    buf_reset(&b);
    ck_assert_int_eq(wire_encode_prekey_count(&b, 0), SP_OK);
    ck_assert_int_eq(wire_decode_prekey_count(&x, b.data, b.len), SP_OK);
    ck_assert_uint_eq(x, 0);
    buf_reset(&b);
    ck_assert_int_eq(wire_encode_prekey_count(&b, UINT32_MAX), SP_OK);
    ck_assert_int_eq(wire_decode_prekey_count(&x, b.data, b.len), SP_OK);
    ck_assert_uint_eq(x, UINT32_MAX);

    buf_reset(&b);
    ck_assert_int_eq(wire_encode_ack_response(&b, 12), SP_OK);
    ck_assert_int_eq(wire_decode_ack_response(&x, b.data, b.len), SP_OK);
    ck_assert_uint_eq(x, 12);
    buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_prekeys)
{
    struct buf b = enc();
    static struct wire_register r;
    static struct wire_prekey_upload in, out;
    struct wire_bundle bin, bout;
    struct wire_signed_prekey sout;
    struct wire_diag d;

    make_register(&r, SP_HARD_MAX_PREKEYS_PER_UPLOAD);
    in.n = SP_HARD_MAX_PREKEYS_PER_UPLOAD;
    memcpy(in.prekeys, r.prekeys, sizeof in.prekeys);
    ck_assert_int_eq(wire_encode_prekey_upload(&b, &in), SP_OK);
    ck_assert_int_eq(wire_decode_prekey_upload(&out, &d, b.data, b.len), SP_OK);
    ck_assert_uint_eq(out.n, in.n);
    ck_assert_mem_eq(out.prekeys, in.prekeys, sizeof in.prekeys);

    buf_reset(&b);
    ck_assert_int_eq(wire_encode_signed_prekey(&b, &r.signed_prekey), SP_OK);
    ck_assert_int_eq(wire_decode_signed_prekey(&sout, &d, b.data, b.len), SP_OK);
    ck_assert_mem_eq(&sout, &r.signed_prekey, sizeof sout);

    for (int with = 0; with < 2; with++) {
        make_bundle(&bin, with);
        buf_reset(&b);
        ck_assert_int_eq(wire_encode_bundle(&b, &bin), SP_OK);
        ck_assert_int_eq(wire_decode_bundle(&bout, &d, b.data, b.len), SP_OK);
        ck_assert_mem_eq(bout.identity_key, bin.identity_key, SP_PUBKEY_LEN);
        ck_assert_uint_eq(bout.registration_id, bin.registration_id);
        ck_assert_uint_eq(bout.device_id, bin.device_id);
        ck_assert_mem_eq(&bout.signed_prekey, &bin.signed_prekey, sizeof bin.signed_prekey);
        ck_assert_int_eq(bout.has_prekey, with);
        if (with)
            ck_assert_mem_eq(&bout.prekey, &bin.prekey, sizeof bin.prekey);
    }
    in.n = SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1;
    ck_assert_int_eq(wire_encode_prekey_upload(&b, &in), SP_ERR_USAGE);
    buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_mail)
{
    struct buf b = enc();
    struct wire_send s;
    struct wire_fetch f;
    struct wire_ack a;
    struct wire_diag d;

    encode_valid(&b, V_SEND);
    ck_assert_int_eq(wire_decode_send(&s, &d, b.data, b.len), SP_OK);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_uint_eq(s.envelopes[0].content_len, sizeof sealed_305);
    ck_assert_mem_eq(s.envelopes[0].content, sealed_305, sizeof sealed_305);
    ck_assert_uint_eq(s.envelopes[1].content_len, sizeof sealed_561);
    ck_assert_mem_eq(s.envelopes[1].content, sealed_561, sizeof sealed_561);
    ck_assert_uint_eq(s.envelopes[1].recipient[0], 2);
    ck_assert_uint_eq(s.envelopes[1].message_id[15], 4);
    /* Contents live in the one storage allocation, not in the input. */
    ck_assert(s.envelopes[0].content == s.storage);
    ck_assert(s.envelopes[1].content == s.storage + sizeof sealed_305);
    wire_send_free(&s);
    wire_send_free(&s);

    buf_reset(&b);
    encode_valid(&b, V_FETCH);
    ck_assert_int_eq(wire_decode_fetch(&f, &d, b.data, b.len), SP_OK);
    ck_assert_uint_eq(f.n, 2);
    ck_assert_uint_eq(f.cursor, 77);
    ck_assert(f.more);
    ck_assert_mem_eq(f.envelopes[0].content, sealed_561, sizeof sealed_561);
    ck_assert_mem_eq(f.envelopes[1].content, sealed_305, sizeof sealed_305);
    ck_assert_uint_eq(f.envelopes[0].received_hour, 3600);
    ck_assert_uint_eq(f.envelopes[1].message_id[0], 6);
    wire_fetch_free(&f);

    /* An empty page is valid. */
    buf_reset(&b);
    ck_assert_int_eq(wire_encode_fetch(&b, NULL, 0, 5, false), SP_OK);
    ck_assert_int_eq(wire_decode_fetch(&f, &d, b.data, b.len), SP_OK);
    ck_assert(f.n == 0 && f.cursor == 5 && !f.more && f.envelopes == NULL);
    wire_fetch_free(&f);

    buf_reset(&b);
    encode_valid(&b, V_ACK);
    ck_assert_int_eq(wire_decode_ack(&a, &d, b.data, b.len), SP_OK);
    ck_assert_uint_eq(a.n, 3);
    ck_assert_uint_eq(a.ids[1][0], 2);
    ck_assert_uint_eq(a.ids[2][15], 0x31);
    wire_ack_free(&a);
    wire_ack_free(&a);

    ck_assert_int_eq(wire_encode_send(&b, NULL, 1), SP_ERR_USAGE);
    ck_assert_int_eq(wire_encode_fetch(&b, NULL, SP_HARD_MAX_FETCH_ENVELOPES + 1, 0, false),
                     SP_ERR_USAGE);
    ck_assert_int_eq(wire_encode_ack(&b, NULL, 2), SP_ERR_USAGE);
    buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_limits)
{
    struct buf b = enc();
    struct sp_limits in, out;
    sp_limits_defaults(&in);
    in.mailbox_max_bytes = 5ull * 1024 * 1024 * 1024; /* > 32 bits */
    in.max_wait_s = 0;
    ck_assert_int_eq(wire_encode_limits(&b, &in), SP_OK);
    ck_assert_int_eq(wire_decode_limits(&out, b.data, b.len), SP_OK);
    ck_assert_mem_eq(&out, &in, sizeof in);
    buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_sealed_content)
{
    struct buf b = enc();
    uint8_t ct[SP_SEAL_MAX_BUCKET - 64];
    struct wire_sealed_content in = {.sender_device = SP_DEVICE_ID, .type = 2, .ciphertext = ct,
                                     .ciphertext_len = sizeof ct},
                               out;
    struct wire_diag d;
    memset(ct, 0xc3, sizeof ct);
    memset(in.sender, 0x21, SP_ADDRESS_LEN);
    ck_assert_int_eq(wire_encode_sealed_content(&b, &in), SP_OK);
    ck_assert_int_eq(wire_decode_sealed_content(&out, &d, b.data, b.len), SP_OK);
    ck_assert_mem_eq(out.sender, in.sender, SP_ADDRESS_LEN);
    ck_assert_uint_eq(out.sender_device, SP_DEVICE_ID);
    ck_assert_uint_eq(out.type, 2);
    ck_assert_uint_eq(out.ciphertext_len, sizeof ct);
    ck_assert_mem_eq(out.ciphertext, ct, sizeof ct);
    wire_sealed_content_free(&out);
    ck_assert_ptr_null(out.ciphertext);
    buf_free(&b);
}
END_TEST

START_TEST(test_encode_respects_cap)
{
    struct buf b;
    struct wire_bundle bb;
    make_bundle(&bb, true);
    buf_init(&b, 16);
    ck_assert_int_eq(buf_append_str(&b, "keep"), SP_OK);
    ck_assert_int_eq(wire_encode_bundle(&b, &bb), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.data, "keep", 4);
    buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- generic negatives */

/* Every prefix of every valid message: no crash, no leak; a prefix that
 * happens to decode must have passed full validation (decoders own that). */
START_TEST(test_truncated_every_decoder)
{
    struct buf b = enc();
    encode_valid(&b, _i);
    ck_assert_int_eq(decoders[_i](b.data, b.len), SP_OK);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n + 1); /* exact-size heap copy so ASan sees overreads */
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, b.data, n);
        sp_status st = decoders[_i](n > 0 ? copy : NULL, n);
        ck_assert(st == SP_OK || st == SP_ERR_MALFORMED || st == SP_ERR_INVALID_FIELD ||
                  st == SP_ERR_UNSUPPORTED_VERSION || st == SP_ERR_TOO_MANY);
        free(copy);
    }
    /* The empty body never passes for a message with a required field. */
    ck_assert_int_ne(decoders[_i](NULL, 0), SP_OK);
    buf_free(&b);
}
END_TEST

/* Inside a SignedProof the payload is a second parse: truncate that too. */
START_TEST(test_truncated_payload)
{
    struct buf payload = enc();
    static struct wire_register r;
    make_register(&r, 3);
    ck_assert_int_eq(wire_encode_register_payload(&payload, &r), SP_OK);
    for (size_t n = 1; n < payload.len; n++) {
        size_t len;
        uint8_t *body = pb_proof(payload.data, n, true, SP_SIGNATURE_LEN, &len);
        sp_status st = d_register(body, len);
        ck_assert_int_ne(st, SP_OK);
        free(body);
    }
    buf_free(&payload);
}
END_TEST

START_TEST(test_oversized_every_decoder)
{
    /* Past every ceiling, including the client's 64 MiB fetch page. */
    size_t huge = 80u * 1024 * 1024;
    uint8_t *p = calloc(1, huge);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(decoders[_i](p, huge), SP_ERR_TOO_LARGE);
    if (_i != V_FETCH)
        ck_assert_int_eq(decoders[_i](p, SP_HARD_MAX_BODY_BYTES + 1), SP_ERR_TOO_LARGE);
    free(p);
}
END_TEST

START_TEST(test_oversized_boundaries)
{
    uint8_t *p = calloc(1, 8192);
    struct wire_diag d;
    struct wire_send s;
    ck_assert_ptr_nonnull(p);
    /* Small messages are capped at a few KiB, not at the body limit. */
    ck_assert_int_eq(d_error(p, 4097), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(d_signed_prekey(p, 4097), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(d_prekey_upload(p, 8192), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(d_token_request(p, 4097), SP_ERR_TOO_LARGE);
    /* Zero bytes are a valid (empty) protobuf: only field checks fail. */
    ck_assert_int_eq(d_error(p, 4096), SP_ERR_MALFORMED); /* field 0 is not a valid tag */
    free(p);
    /* NULL with a length is a caller bug. */
    ck_assert_int_eq(wire_decode_send(&s, &d, NULL, 10), SP_ERR_USAGE);
}
END_TEST

/* protobuf-c spends ~60 bytes of heap per 2-byte empty item; the decoder's
 * allocation budget turns that amplification into TOO_LARGE. */
START_TEST(test_allocation_amplification)
{
    size_t n = 1024 * 1024;
    uint8_t *p = malloc(n);
    struct wire_diag d;
    struct wire_send s;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i += 2) {
        p[i] = 0x0a; /* field 1 (envelopes), length-delimited */
        p[i + 1] = 0x00;
    }
    ck_assert_int_eq(wire_decode_send(&s, &d, p, n), SP_ERR_TOO_LARGE);
    for (size_t i = 0; i < n; i += 2) {
        p[i] = 0x78; /* unknown field 15, varint */
        p[i + 1] = 0x00;
    }
    ck_assert_int_eq(wire_decode_send(&s, &d, p, n), SP_ERR_TOO_LARGE);
    free(p);
}
END_TEST

START_TEST(test_garbage_is_malformed)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t bad_len[] = {0x0a, 0x7f, 0x01}; /* field 1, length 127, 1 byte */
    for (int i = 0; i < V_N; i++) {
        ck_assert_int_eq(decoders[i](junk, sizeof junk), SP_ERR_MALFORMED);
        ck_assert_int_eq(decoders[i](bad_len, sizeof bad_len), SP_ERR_MALFORMED);
    }
}
END_TEST

/* ---------------------------------------------------------------- register negatives */

struct reg_fixture {
    Sealpost__V1__RegisterPayload m;
    Sealpost__V1__SignedPreKey spk;
    Sealpost__V1__KemPreKey kem;
    Sealpost__V1__PreKey keys[SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1];
    Sealpost__V1__PreKey *ptrs[SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1];
    uint8_t ik[40], spk_pub[40], spk_sig[80], pk[SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1][40],
        nonce[20];
};

static void reg_fixture_init(struct reg_fixture *f)
{
    memset(f, 0, sizeof *f);
    fill_key(f->ik, 1);
    fill_key(f->spk_pub, 2);
    memset(f->spk_sig, 3, sizeof f->spk_sig);
    memset(f->nonce, 4, sizeof f->nonce);
    f->spk = (Sealpost__V1__SignedPreKey)SEALPOST__V1__SIGNED_PRE_KEY__INIT;
    f->spk.has_id = 1;
    f->spk.id = 9;
    f->spk.has_public_key = 1;
    f->spk.public_key = bd(f->spk_pub, SP_PUBKEY_LEN);
    f->spk.has_signature = 1;
    f->spk.signature = bd(f->spk_sig, SP_SIGNATURE_LEN);
    for (size_t i = 0; i < SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1; i++) {
        fill_key(f->pk[i], (uint8_t)i);
        f->keys[i] = (Sealpost__V1__PreKey)SEALPOST__V1__PRE_KEY__INIT;
        f->keys[i].has_id = 1;
        f->keys[i].id = (uint32_t)(i + 1);
        f->keys[i].has_public_key = 1;
        f->keys[i].public_key = bd(f->pk[i], SP_PUBKEY_LEN);
        f->ptrs[i] = &f->keys[i];
    }
    f->kem = (Sealpost__V1__KemPreKey)SEALPOST__V1__KEM_PRE_KEY__INIT;
    f->kem.has_id = 1;
    f->kem.id = 1;
    f->m = (Sealpost__V1__RegisterPayload)SEALPOST__V1__REGISTER_PAYLOAD__INIT;
    f->m.has_version = 1;
    f->m.version = 1;
    f->m.has_identity_key = 1;
    f->m.identity_key = bd(f->ik, SP_PUBKEY_LEN);
    f->m.has_registration_id = 1;
    f->m.registration_id = 1;
    f->m.has_device_id = 1;
    f->m.device_id = 1;
    f->m.signed_prekey = &f->spk;
    f->m.n_prekeys = 3;
    f->m.prekeys = f->ptrs;
    f->m.has_timestamp = 1;
    f->m.timestamp = 1700000000;
    f->m.has_nonce = 1;
    f->m.nonce = bd(f->nonce, SP_NONCE_LEN);
}

typedef void (*reg_mutator)(struct reg_fixture *f);
#define MUT(name, body)                                                                            \
    static void name(struct reg_fixture *f)                                                        \
    {                                                                                              \
        body;                                                                                      \
    }
MUT(r_ok, (void)f)
MUT(r_no_version, f->m.has_version = 0)
MUT(r_version2, f->m.version = 2)
MUT(r_version0, f->m.version = 0)
MUT(r_no_ik, f->m.has_identity_key = 0)
MUT(r_ik_short, f->m.identity_key.len = 32)
MUT(r_ik_long, f->m.identity_key.len = 34)
MUT(r_ik_type, f->ik[0] = 0x06)
MUT(r_no_reg, f->m.has_registration_id = 0)
MUT(r_reg0, f->m.registration_id = 0)
MUT(r_reg_max, f->m.registration_id = SP_MAX_REGISTRATION_ID)
MUT(r_reg_over, f->m.registration_id = SP_MAX_REGISTRATION_ID + 1)
MUT(r_no_dev, f->m.has_device_id = 0)
MUT(r_dev2, f->m.device_id = 2)
MUT(r_no_spk, f->m.signed_prekey = NULL)
MUT(r_spk_no_id, f->spk.has_id = 0)
MUT(r_spk_id0, f->spk.id = 0)
MUT(r_spk_id_max, f->spk.id = SP_MAX_KEY_ID)
MUT(r_spk_id_over, f->spk.id = SP_MAX_KEY_ID + 1)
MUT(r_spk_no_pub, f->spk.has_public_key = 0)
MUT(r_spk_pub_len, f->spk.public_key.len = 32)
MUT(r_spk_pub_type, f->spk_pub[0] = 0)
MUT(r_spk_no_sig, f->spk.has_signature = 0)
MUT(r_spk_sig_short, f->spk.signature.len = 63)
MUT(r_spk_sig_long, f->spk.signature.len = 65)
MUT(r_pk_no_id, f->keys[1].has_id = 0)
MUT(r_pk_id0, f->keys[2].id = 0)
MUT(r_pk_id_over, f->keys[0].id = SP_MAX_KEY_ID + 1)
MUT(r_pk_no_pub, f->keys[1].has_public_key = 0)
MUT(r_pk_pub_len, f->keys[2].public_key.len = 1)
MUT(r_pk_pub_type, f->pk[1][0] = 0x04)
MUT(r_pk_dup, f->keys[2].id = f->keys[0].id)
MUT(r_pk_none, f->m.n_prekeys = 0)
MUT(r_pk_max, f->m.n_prekeys = SP_HARD_MAX_PREKEYS_PER_UPLOAD)
MUT(r_pk_too_many, f->m.n_prekeys = SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1)
MUT(r_no_ts, f->m.has_timestamp = 0)
MUT(r_no_nonce, f->m.has_nonce = 0)
MUT(r_nonce_short, f->m.nonce.len = 15)
MUT(r_nonce_long, f->m.nonce.len = 17)
MUT(r_kem, f->m.kem_prekey = &f->kem)

static const struct {
    reg_mutator mutate;
    sp_status st;
    const char *field;
    int index;
} reg_cases[] = {
    {r_ok, SP_OK, NULL, -1},
    {r_no_version, SP_ERR_INVALID_FIELD, "version", -1},
    {r_version2, SP_ERR_UNSUPPORTED_VERSION, "version", -1},
    {r_version0, SP_ERR_UNSUPPORTED_VERSION, "version", -1},
    {r_no_ik, SP_ERR_INVALID_FIELD, "identity_key", -1},
    {r_ik_short, SP_ERR_INVALID_FIELD, "identity_key", -1},
    {r_ik_long, SP_ERR_INVALID_FIELD, "identity_key", -1},
    {r_ik_type, SP_ERR_INVALID_FIELD, "identity_key", -1},
    {r_no_reg, SP_ERR_INVALID_FIELD, "registration_id", -1},
    {r_reg0, SP_ERR_INVALID_FIELD, "registration_id", -1},
    {r_reg_max, SP_OK, NULL, -1},
    {r_reg_over, SP_ERR_INVALID_FIELD, "registration_id", -1},
    {r_no_dev, SP_ERR_INVALID_FIELD, "device_id", -1},
    {r_dev2, SP_ERR_INVALID_FIELD, "device_id", -1},
    {r_no_spk, SP_ERR_INVALID_FIELD, "signed_prekey", -1},
    {r_spk_no_id, SP_ERR_INVALID_FIELD, "signed_prekey.id", -1},
    {r_spk_id0, SP_ERR_INVALID_FIELD, "signed_prekey.id", -1},
    {r_spk_id_max, SP_OK, NULL, -1},
    {r_spk_id_over, SP_ERR_INVALID_FIELD, "signed_prekey.id", -1},
    {r_spk_no_pub, SP_ERR_INVALID_FIELD, "signed_prekey.public_key", -1},
    {r_spk_pub_len, SP_ERR_INVALID_FIELD, "signed_prekey.public_key", -1},
    {r_spk_pub_type, SP_ERR_INVALID_FIELD, "signed_prekey.public_key", -1},
    {r_spk_no_sig, SP_ERR_INVALID_FIELD, "signed_prekey.signature", -1},
    {r_spk_sig_short, SP_ERR_INVALID_FIELD, "signed_prekey.signature", -1},
    {r_spk_sig_long, SP_ERR_INVALID_FIELD, "signed_prekey.signature", -1},
    {r_pk_no_id, SP_ERR_INVALID_FIELD, "prekeys.id", 1},
    {r_pk_id0, SP_ERR_INVALID_FIELD, "prekeys.id", 2},
    {r_pk_id_over, SP_ERR_INVALID_FIELD, "prekeys.id", 0},
    {r_pk_no_pub, SP_ERR_INVALID_FIELD, "prekeys.public_key", 1},
    {r_pk_pub_len, SP_ERR_INVALID_FIELD, "prekeys.public_key", 2},
    {r_pk_pub_type, SP_ERR_INVALID_FIELD, "prekeys.public_key", 1},
    {r_pk_dup, SP_ERR_INVALID_FIELD, "prekeys.id", 2},
    {r_pk_none, SP_OK, NULL, -1},
    {r_pk_max, SP_OK, NULL, -1},
    {r_pk_too_many, SP_ERR_TOO_MANY, "prekeys", -1},
    {r_no_ts, SP_ERR_INVALID_FIELD, "timestamp", -1},
    {r_no_nonce, SP_ERR_INVALID_FIELD, "nonce", -1},
    {r_nonce_short, SP_ERR_INVALID_FIELD, "nonce", -1},
    {r_nonce_long, SP_ERR_INVALID_FIELD, "nonce", -1},
    {r_kem, SP_ERR_INVALID_FIELD, "kem_prekey", -1},
};
#define N_REG_CASES ((int)(sizeof reg_cases / sizeof reg_cases[0]))

START_TEST(test_register_fields)
{
    static struct reg_fixture f;
    static struct wire_register out;
    struct wire_diag d;
    size_t plen, blen;
    reg_fixture_init(&f);
    reg_cases[_i].mutate(&f);
    uint8_t *payload = pb_pack(&f.m.base, &plen);
    uint8_t *body = pb_proof(payload, plen, true, SP_SIGNATURE_LEN, &blen);
    sp_status st = wire_decode_register(&out, &d, body, blen);
    ck_assert_msg(st == reg_cases[_i].st, "case %d: got %s", _i, sp_status_name(st));
    assert_diag(&d, reg_cases[_i].field, reg_cases[_i].index);
    if (st != SP_OK) {
        ck_assert_ptr_null(out.payload);
        ck_assert_uint_eq(out.n_prekeys, 0);
        ck_assert_uint_eq(out.registration_id, 0);
    }
    wire_register_free(&out);
    free(body);
    free(payload);
}
END_TEST

START_TEST(test_proof_fields)
{
    static struct reg_fixture f;
    struct wire_diag d;
    static struct wire_register out;
    size_t plen, blen;
    uint8_t *payload, *body;
    reg_fixture_init(&f);
    payload = pb_pack(&f.m.base, &plen);

    static const struct {
        bool has_payload;
        size_t payload_len_delta; /* subtracted */
        bool empty_payload;
        size_t sig_len;
        sp_status st;
        const char *field;
    } cases[] = {
        {false, 0, false, 64, SP_ERR_INVALID_FIELD, "payload"},
        {true, 0, true, 64, SP_ERR_INVALID_FIELD, "payload"},
        {true, 0, false, 0, SP_ERR_INVALID_FIELD, "signature"},
        {true, 0, false, 63, SP_ERR_INVALID_FIELD, "signature"},
        {true, 0, false, 65, SP_ERR_INVALID_FIELD, "signature"},
        {true, 1, false, 64, SP_ERR_MALFORMED, "payload"},
        {true, 0, false, 64, SP_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].empty_payload ? 0 : plen - cases[i].payload_len_delta;
        body = pb_proof(payload, n, cases[i].has_payload, cases[i].sig_len, &blen);
        sp_status st = wire_decode_register(&out, &d, body, blen);
        ck_assert_msg(st == cases[i].st, "case %zu: got %s", i, sp_status_name(st));
        assert_diag(&d, cases[i].field, -1);
        wire_register_free(&out);
        free(body);
    }
    /* A token payload inside a register proof is not a register payload
     * (field 4 is bytes there, a varint here). */
    {
        struct buf tp = enc();
        struct wire_token_request t = {.timestamp = 1};
        ck_assert_int_eq(wire_encode_token_payload(&tp, &t), SP_OK);
        body = pb_proof(tp.data, tp.len, true, 64, &blen);
        ck_assert_int_eq(wire_decode_register(&out, &d, body, blen), SP_ERR_MALFORMED);
        assert_diag(&d, "payload", -1);
        free(body);
        buf_free(&tp);
    }
    free(payload);
}
END_TEST

/* ---------------------------------------------------------------- token negatives */

START_TEST(test_token_fields)
{
    uint8_t addr[32], nonce[32];
    struct wire_token_request out;
    struct wire_diag d;
    memset(addr, 1, sizeof addr);
    memset(nonce, 2, sizeof nonce);
    static const struct {
        int drop; /* 0 none, 1 version, 2 address, 3 timestamp, 4 nonce */
        uint32_t version;
        size_t addr_len, nonce_len;
        sp_status st;
        const char *field;
    } cases[] = {
        {0, 1, 20, 16, SP_OK, NULL},
        {1, 1, 20, 16, SP_ERR_INVALID_FIELD, "version"},
        {0, 2, 20, 16, SP_ERR_UNSUPPORTED_VERSION, "version"},
        {2, 1, 20, 16, SP_ERR_INVALID_FIELD, "address"},
        {0, 1, 19, 16, SP_ERR_INVALID_FIELD, "address"},
        {0, 1, 21, 16, SP_ERR_INVALID_FIELD, "address"},
        {0, 1, 32, 16, SP_ERR_INVALID_FIELD, "address"},
        {3, 1, 20, 16, SP_ERR_INVALID_FIELD, "timestamp"},
        {4, 1, 20, 16, SP_ERR_INVALID_FIELD, "nonce"},
        {0, 1, 20, 0, SP_ERR_INVALID_FIELD, "nonce"},
        {0, 1, 20, 15, SP_ERR_INVALID_FIELD, "nonce"},
        {0, 1, 20, 17, SP_ERR_INVALID_FIELD, "nonce"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Sealpost__V1__TokenPayload m = SEALPOST__V1__TOKEN_PAYLOAD__INIT;
        size_t plen, blen;
        m.has_version = cases[i].drop != 1;
        m.version = cases[i].version;
        m.has_address = cases[i].drop != 2;
        m.address = bd(addr, cases[i].addr_len);
        m.has_timestamp = cases[i].drop != 3;
        m.timestamp = 5;
        m.has_nonce = cases[i].drop != 4;
        m.nonce = bd(nonce, cases[i].nonce_len);
        uint8_t *payload = pb_pack(&m.base, &plen);
        uint8_t *body = pb_proof(payload, plen, true, SP_SIGNATURE_LEN, &blen);
        sp_status st = wire_decode_token_request(&out, &d, body, blen);
        ck_assert_msg(st == cases[i].st, "case %zu: got %s", i, sp_status_name(st));
        assert_diag(&d, cases[i].field, -1);
        if (st == SP_OK)
            ck_assert_uint_eq(out.timestamp, 5);
        else
            ck_assert_ptr_null(out.payload);
        wire_token_request_free(&out);
        free(body);
        free(payload);
    }
}
END_TEST

/* ---------------------------------------------------------------- prekey upload / spk / bundle */

START_TEST(test_prekey_upload_fields)
{
    static struct reg_fixture f;
    static struct wire_prekey_upload out;
    struct wire_diag d;
    static const struct {
        reg_mutator mutate;
        sp_status st;
        const char *field;
        int index;
    } cases[] = {
        {r_ok, SP_OK, NULL, -1},
        {r_pk_none, SP_ERR_INVALID_FIELD, "prekeys", -1},
        {r_pk_max, SP_OK, NULL, -1},
        {r_pk_too_many, SP_ERR_TOO_MANY, "prekeys", -1},
        {r_pk_dup, SP_ERR_INVALID_FIELD, "prekeys.id", 2},
        {r_pk_no_id, SP_ERR_INVALID_FIELD, "prekeys.id", 1},
        {r_pk_id0, SP_ERR_INVALID_FIELD, "prekeys.id", 2},
        {r_pk_id_over, SP_ERR_INVALID_FIELD, "prekeys.id", 0},
        {r_pk_no_pub, SP_ERR_INVALID_FIELD, "prekeys.public_key", 1},
        {r_pk_pub_len, SP_ERR_INVALID_FIELD, "prekeys.public_key", 2},
        {r_pk_pub_type, SP_ERR_INVALID_FIELD, "prekeys.public_key", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Sealpost__V1__PreKeyUpload m = SEALPOST__V1__PRE_KEY_UPLOAD__INIT;
        size_t len;
        reg_fixture_init(&f);
        cases[i].mutate(&f);
        m.n_prekeys = f.m.n_prekeys;
        m.prekeys = f.ptrs;
        uint8_t *p = pb_pack(&m.base, &len);
        sp_status st = wire_decode_prekey_upload(&out, &d, p, len);
        ck_assert_msg(st == cases[i].st, "case %zu: got %s", i, sp_status_name(st));
        assert_diag(&d, cases[i].field, cases[i].index);
        if (st == SP_OK)
            ck_assert_uint_eq(out.n, f.m.n_prekeys);
        else
            ck_assert_uint_eq(out.n, 0);
        free(p);
    }
    /* Duplicates far apart are found too. */
    reg_fixture_init(&f);
    f.keys[SP_HARD_MAX_PREKEYS_PER_UPLOAD - 1].id = 1;
    {
        Sealpost__V1__PreKeyUpload m = SEALPOST__V1__PRE_KEY_UPLOAD__INIT;
        size_t len;
        m.n_prekeys = SP_HARD_MAX_PREKEYS_PER_UPLOAD;
        m.prekeys = f.ptrs;
        uint8_t *p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_prekey_upload(&out, &d, p, len), SP_ERR_INVALID_FIELD);
        assert_diag(&d, "prekeys.id", SP_HARD_MAX_PREKEYS_PER_UPLOAD - 1);
        free(p);
    }
}
END_TEST

START_TEST(test_signed_prekey_fields)
{
    static struct reg_fixture f;
    struct wire_signed_prekey out;
    struct wire_diag d;
    static const struct {
        reg_mutator mutate;
        sp_status st;
        const char *field;
    } cases[] = {
        {r_ok, SP_OK, NULL},
        {r_spk_no_id, SP_ERR_INVALID_FIELD, "id"},
        {r_spk_id0, SP_ERR_INVALID_FIELD, "id"},
        {r_spk_id_max, SP_OK, NULL},
        {r_spk_id_over, SP_ERR_INVALID_FIELD, "id"},
        {r_spk_no_pub, SP_ERR_INVALID_FIELD, "public_key"},
        {r_spk_pub_len, SP_ERR_INVALID_FIELD, "public_key"},
        {r_spk_pub_type, SP_ERR_INVALID_FIELD, "public_key"},
        {r_spk_no_sig, SP_ERR_INVALID_FIELD, "signature"},
        {r_spk_sig_short, SP_ERR_INVALID_FIELD, "signature"},
        {r_spk_sig_long, SP_ERR_INVALID_FIELD, "signature"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        reg_fixture_init(&f);
        cases[i].mutate(&f);
        uint8_t *p = pb_pack(&f.spk.base, &len);
        sp_status st = wire_decode_signed_prekey(&out, &d, p, len);
        ck_assert_msg(st == cases[i].st, "case %zu: got %s", i, sp_status_name(st));
        assert_diag(&d, cases[i].field, -1);
        if (st != SP_OK)
            ck_assert_uint_eq(out.id, 0);
        free(p);
    }
}
END_TEST

START_TEST(test_bundle_fields)
{
    static struct reg_fixture f;
    struct wire_bundle out;
    struct wire_diag d;
    enum { OK, NO_IK, IK_TYPE, REG0, REG_OVER, DEV2, NO_SPK, SPK_SIG, PK_ID0, PK_TYPE, NO_PK,
           KEM, N };
    static const struct {
        sp_status st;
        const char *field;
    } expect[N] = {
        [OK] = {SP_OK, NULL},
        [NO_IK] = {SP_ERR_INVALID_FIELD, "identity_key"},
        [IK_TYPE] = {SP_ERR_INVALID_FIELD, "identity_key"},
        [REG0] = {SP_ERR_INVALID_FIELD, "registration_id"},
        [REG_OVER] = {SP_ERR_INVALID_FIELD, "registration_id"},
        [DEV2] = {SP_ERR_INVALID_FIELD, "device_id"},
        [NO_SPK] = {SP_ERR_INVALID_FIELD, "signed_prekey"},
        [SPK_SIG] = {SP_ERR_INVALID_FIELD, "signed_prekey.signature"},
        [PK_ID0] = {SP_ERR_INVALID_FIELD, "prekey.id"},
        [PK_TYPE] = {SP_ERR_INVALID_FIELD, "prekey.public_key"},
        [NO_PK] = {SP_OK, NULL},
        [KEM] = {SP_ERR_INVALID_FIELD, "kem_prekey"},
    };
    for (int c = 0; c < N; c++) {
        Sealpost__V1__Bundle m = SEALPOST__V1__BUNDLE__INIT;
        size_t len;
        reg_fixture_init(&f);
        m.has_identity_key = 1;
        m.identity_key = bd(f.ik, SP_PUBKEY_LEN);
        m.has_registration_id = 1;
        m.registration_id = 77;
        m.has_device_id = 1;
        m.device_id = 1;
        m.signed_prekey = &f.spk;
        m.prekey = &f.keys[0];
        switch (c) {
        case NO_IK: m.has_identity_key = 0; break;
        case IK_TYPE: f.ik[0] = 0; break;
        case REG0: m.registration_id = 0; break;
        case REG_OVER: m.registration_id = 0xFFFFFFFFu; break;
        case DEV2: m.device_id = 2; break;
        case NO_SPK: m.signed_prekey = NULL; break;
        case SPK_SIG: f.spk.signature.len = 10; break;
        case PK_ID0: f.keys[0].id = 0; break;
        case PK_TYPE: f.pk[0][0] = 0xff; break;
        case NO_PK: m.prekey = NULL; break;
        case KEM: m.kem_prekey = &f.kem; break;
        default: break;
        }
        uint8_t *p = pb_pack(&m.base, &len);
        sp_status st = wire_decode_bundle(&out, &d, p, len);
        ck_assert_msg(st == expect[c].st, "case %d: got %s", c, sp_status_name(st));
        assert_diag(&d, expect[c].field, -1);
        if (c == OK)
            ck_assert(out.has_prekey && out.prekey.id == 1 && out.registration_id == 77);
        if (c == NO_PK)
            ck_assert(!out.has_prekey);
        if (st != SP_OK)
            ck_assert(!out.has_prekey && out.registration_id == 0);
        free(p);
    }
}
END_TEST

/* ---------------------------------------------------------------- send / fetch / ack negatives */

/* n OutgoingEnvelopes (or Envelopes) sharing one valid content. */
struct mail_fixture {
    size_t n;
    Sealpost__V1__OutgoingEnvelope *out;
    Sealpost__V1__OutgoingEnvelope **out_ptrs;
    Sealpost__V1__Envelope *in;
    Sealpost__V1__Envelope **in_ptrs;
    uint8_t addr[24], id[20];
};

static void mail_fixture_init(struct mail_fixture *f, size_t n)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->out = calloc(n + 1, sizeof *f->out);
    f->out_ptrs = calloc(n + 1, sizeof *f->out_ptrs);
    f->in = calloc(n + 1, sizeof *f->in);
    f->in_ptrs = calloc(n + 1, sizeof *f->in_ptrs);
    ck_assert(f->out && f->out_ptrs && f->in && f->in_ptrs);
    memset(f->addr, 0xad, sizeof f->addr);
    memset(f->id, 0x1d, sizeof f->id);
    for (size_t i = 0; i < n; i++) {
        f->out[i] = (Sealpost__V1__OutgoingEnvelope)SEALPOST__V1__OUTGOING_ENVELOPE__INIT;
        f->out[i].has_recipient = 1;
        f->out[i].recipient = bd(f->addr, SP_ADDRESS_LEN);
        f->out[i].has_message_id = 1;
        f->out[i].message_id = bd(f->id, SP_MESSAGE_ID_LEN);
        f->out[i].has_content = 1;
        f->out[i].content = bd(sealed_305, sizeof sealed_305);
        f->out_ptrs[i] = &f->out[i];
        f->in[i] = (Sealpost__V1__Envelope)SEALPOST__V1__ENVELOPE__INIT;
        f->in[i].has_message_id = 1;
        f->in[i].message_id = bd(f->id, SP_MESSAGE_ID_LEN);
        f->in[i].has_content = 1;
        f->in[i].content = bd(sealed_305, sizeof sealed_305);
        f->in[i].has_received_hour = 1;
        f->in[i].received_hour = 3600;
        f->in_ptrs[i] = &f->in[i];
    }
}

static void mail_fixture_free(struct mail_fixture *f)
{
    free(f->out);
    free(f->out_ptrs);
    free(f->in);
    free(f->in_ptrs);
}

static sp_status send_fixture(struct mail_fixture *f, struct wire_diag *d)
{
    Sealpost__V1__SendRequest m = SEALPOST__V1__SEND_REQUEST__INIT;
    struct wire_send s;
    size_t len;
    m.n_envelopes = f->n;
    m.envelopes = f->out_ptrs;
    uint8_t *p = pb_pack(&m.base, &len);
    sp_status st = wire_decode_send(&s, d, p, len);
    if (st == SP_OK)
        ck_assert_uint_eq(s.n, f->n);
    wire_send_free(&s);
    free(p);
    return st;
}

START_TEST(test_send_fields)
{
    struct mail_fixture f;
    struct wire_diag d;
    static uint8_t bad[SP_SEAL_OVERHEAD + 300];
    memcpy(bad, sealed_305, sizeof sealed_305);
    bad[0] = SP_SEAL_VERSION;

    mail_fixture_init(&f, 3);
    ck_assert_int_eq(send_fixture(&f, &d), SP_OK);
    assert_diag(&d, NULL, -1);
    f.out[1].has_recipient = 0;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.recipient", 1);
    f.out[1].has_recipient = 1;
    f.out[2].recipient.len = 19;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.recipient", 2);
    f.out[2].recipient.len = 21;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    f.out[2].recipient.len = 20;
    f.out[0].has_message_id = 0;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.message_id", 0);
    f.out[0].has_message_id = 1;
    f.out[0].message_id.len = 17;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.message_id", 0);
    f.out[0].message_id.len = 16;
    f.out[2].has_content = 0;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.content", 2);
    f.out[2].has_content = 1;
    f.out[2].content = bd(bad, sizeof bad); /* 300 + 49: not a power of two */
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.content", 2);
    f.out[2].content = bd(sealed_305, 0);
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.content", 2);
    bad[0] = 2; /* unknown seal version */
    f.out[2].content = bd(bad, SP_SEAL_OVERHEAD + 256);
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_UNSUPPORTED_VERSION);
    assert_diag(&d, "envelopes.content", 2);
    f.n = 0;
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes", -1);
    mail_fixture_free(&f);

    mail_fixture_init(&f, SP_HARD_MAX_ENVELOPES_PER_REQ);
    ck_assert_int_eq(send_fixture(&f, &d), SP_OK);
    mail_fixture_free(&f);
    mail_fixture_init(&f, SP_HARD_MAX_ENVELOPES_PER_REQ + 1);
    ck_assert_int_eq(send_fixture(&f, &d), SP_ERR_TOO_MANY);
    assert_diag(&d, "envelopes", -1);
    mail_fixture_free(&f);
}
END_TEST

static sp_status fetch_fixture(struct mail_fixture *f, struct wire_diag *d, bool cursor,
                               bool more)
{
    Sealpost__V1__FetchResponse m = SEALPOST__V1__FETCH_RESPONSE__INIT;
    struct wire_fetch out;
    size_t len;
    m.n_envelopes = f->n;
    m.envelopes = f->in_ptrs;
    m.has_cursor = cursor;
    m.cursor = 9;
    m.has_more = more;
    uint8_t *p = pb_pack(&m.base, &len);
    sp_status st = wire_decode_fetch(&out, d, p, len);
    wire_fetch_free(&out);
    free(p);
    return st;
}

START_TEST(test_fetch_fields)
{
    struct mail_fixture f;
    struct wire_diag d;
    uint8_t v2[SP_SEAL_OVERHEAD + 256];
    memset(v2, 0, sizeof v2);
    v2[0] = 2;

    mail_fixture_init(&f, 2);
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_OK);
    ck_assert_int_eq(fetch_fixture(&f, &d, false, true), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "cursor", -1);
    ck_assert_int_eq(fetch_fixture(&f, &d, true, false), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "more", -1);
    f.in[1].message_id.len = 15;
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.message_id", 1);
    f.in[1].message_id.len = 16;
    f.in[0].has_received_hour = 0;
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.received_hour", 0);
    f.in[0].has_received_hour = 1;
    f.in[1].content = bd(v2, sizeof v2);
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_ERR_UNSUPPORTED_VERSION);
    assert_diag(&d, "envelopes.content", 1);
    f.in[1].content = bd(sealed_305, 100);
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "envelopes.content", 1);
    f.n = 0;
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_OK);
    mail_fixture_free(&f);

    mail_fixture_init(&f, SP_HARD_MAX_FETCH_ENVELOPES + 1);
    ck_assert_int_eq(fetch_fixture(&f, &d, true, true), SP_ERR_TOO_MANY);
    assert_diag(&d, "envelopes", -1);
    mail_fixture_free(&f);
}
END_TEST

static sp_status ack_ids(size_t n, size_t bad_index, size_t bad_len, struct wire_diag *d)
{
    static uint8_t id[32];
    Sealpost__V1__AckRequest m = SEALPOST__V1__ACK_REQUEST__INIT;
    ProtobufCBinaryData *ids = calloc(n + 1, sizeof *ids);
    struct wire_ack a;
    size_t len;
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = bd(id, i == bad_index ? bad_len : SP_MESSAGE_ID_LEN);
    m.n_message_ids = n;
    m.message_ids = ids;
    uint8_t *p = pb_pack(&m.base, &len);
    sp_status st = wire_decode_ack(&a, d, p, len);
    if (st == SP_OK)
        ck_assert_uint_eq(a.n, n);
    wire_ack_free(&a);
    free(p);
    free(ids);
    return st;
}

START_TEST(test_ack_fields)
{
    struct wire_diag d;
    ck_assert_int_eq(ack_ids(1, SIZE_MAX, 0, &d), SP_OK);
    ck_assert_int_eq(ack_ids(SP_HARD_MAX_ACK_IDS, SIZE_MAX, 0, &d), SP_OK);
    ck_assert_int_eq(ack_ids(0, SIZE_MAX, 0, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "message_ids", -1);
    ck_assert_int_eq(ack_ids(SP_HARD_MAX_ACK_IDS + 1, SIZE_MAX, 0, &d), SP_ERR_TOO_MANY);
    assert_diag(&d, "message_ids", -1);
    ck_assert_int_eq(ack_ids(5, 3, 15, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "message_ids", 3);
    ck_assert_int_eq(ack_ids(5, 4, 17, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "message_ids", 4);
    ck_assert_int_eq(ack_ids(5, 0, 0, &d), SP_ERR_INVALID_FIELD);
    assert_diag(&d, "message_ids", 0);
}
END_TEST

/* ---------------------------------------------------------------- small messages */

START_TEST(test_small_message_fields)
{
    uint8_t bytes[40];
    size_t len;
    uint8_t *p;
    uint32_t x;
    memset(bytes, 7, sizeof bytes);
    {
        struct wire_register_response out;
        Sealpost__V1__RegisterResponse m = SEALPOST__V1__REGISTER_RESPONSE__INIT;
        m.has_address = 1;
        m.address = bd(bytes, 19);
        m.has_created = 1;
        p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_register_response(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
        m.address.len = 20;
        m.has_created = 0;
        p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_register_response(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
    }
    {
        struct wire_token_response out;
        Sealpost__V1__TokenResponse m = SEALPOST__V1__TOKEN_RESPONSE__INIT;
        m.has_token = 1;
        m.token = bd(bytes, 31);
        m.has_expires_at = 1;
        p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_token_response(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
        m.token.len = 32;
        m.has_expires_at = 0;
        p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_token_response(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
    }
    {
        struct wire_send_response out;
        Sealpost__V1__SendResponse m = SEALPOST__V1__SEND_RESPONSE__INIT;
        m.has_stored = 1;
        p = pb_pack(&m.base, &len);
        ck_assert_int_eq(wire_decode_send_response(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
    }
    /* Empty bodies: the required field is missing. */
    ck_assert_int_eq(wire_decode_prekey_count(&x, NULL, 0), SP_ERR_INVALID_FIELD);
    ck_assert_int_eq(wire_decode_ack_response(&x, NULL, 0), SP_ERR_INVALID_FIELD);
}
END_TEST

START_TEST(test_error_fields)
{
    struct wire_error out;
    size_t len;
    uint8_t *p;
    char msg[600];
    Sealpost__V1__Error m = SEALPOST__V1__ERROR__INIT;

    /* Missing code. */
    p = pb_pack(&m.base, &len);
    ck_assert_int_eq(wire_decode_error(&out, p, len), SP_ERR_INVALID_FIELD);
    free(p);
    /* A code from a newer relay is kept; an absurd one is refused. */
    m.has_code = 1;
    m.code = SP_STATUS_COUNT + 5;
    p = pb_pack(&m.base, &len);
    ck_assert_int_eq(wire_decode_error(&out, p, len), SP_OK);
    ck_assert_int_eq((int)out.code, SP_STATUS_COUNT + 5);
    ck_assert_str_eq(sp_strerror(out.code), "unknown status");
    free(p);
    m.code = 0x10000;
    p = pb_pack(&m.base, &len);
    ck_assert_int_eq(wire_decode_error(&out, p, len), SP_ERR_INVALID_FIELD);
    ck_assert_int_eq(out.code, SP_OK);
    free(p);
    /* Long messages are truncated to 255 chars; control bytes neutralised. */
    m.code = SP_ERR_INTERNAL;
    memset(msg, 'a', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    msg[3] = '\n';
    msg[4] = '\x1b';
    msg[5] = (char)0xc3;
    m.message = msg;
    p = pb_pack(&m.base, &len);
    ck_assert_int_eq(wire_decode_error(&out, p, len), SP_OK);
    ck_assert_uint_eq(strlen(out.message), 255);
    ck_assert(memcmp(out.message, "aaa???aaa", 9) == 0);
    free(p);

    /* The encoder bounds an unterminated message to the struct. */
    {
        struct wire_error in = {.code = SP_ERR_INTERNAL};
        struct buf b = enc();
        memset(in.message, 'z', sizeof in.message);
        ck_assert_int_eq(wire_encode_error(&b, &in), SP_OK);
        ck_assert_int_eq(wire_decode_error(&out, b.data, b.len), SP_OK);
        ck_assert_uint_eq(strlen(out.message), 255);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_limits_fields)
{
    struct sp_limits l, out;
    struct buf b = enc();
    Sealpost__V1__Limits *m = NULL;

    sp_limits_defaults(&l);
    ck_assert_int_eq(wire_encode_limits(&b, &l), SP_OK);
    m = sealpost__v1__limits__unpack(NULL, b.len, b.data);
    ck_assert_ptr_nonnull(m);

    /* Drop each field in turn: protobuf_c_boolean has_* are laid out
     * right before their values, so walk the descriptor. */
    const ProtobufCMessageDescriptor *desc = &sealpost__v1__limits__descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        protobuf_c_boolean *has =
            (protobuf_c_boolean *)((char *)m + desc->fields[i].quantifier_offset);
        size_t len;
        *has = 0;
        uint8_t *p = pb_pack(&m->base, &len);
        ck_assert_int_eq(wire_decode_limits(&out, p, len), SP_ERR_INVALID_FIELD);
        free(p);
        *has = 1;
    }
    m->protocol_version = 2;
    {
        size_t len;
        uint8_t *p = pb_pack(&m->base, &len);
        ck_assert_int_eq(wire_decode_limits(&out, p, len), SP_ERR_UNSUPPORTED_VERSION);
        free(p);
    }
    m->protocol_version = 1;
    m->max_envelopes_per_request = SP_HARD_MAX_ENVELOPES_PER_REQ + 1;
    {
        size_t len;
        uint8_t *p = pb_pack(&m->base, &len);
        ck_assert_int_eq(wire_decode_limits(&out, p, len), SP_ERR_INVALID_FIELD);
        ck_assert_uint_eq(out.max_body_bytes, 0);
        free(p);
    }
    sealpost__v1__limits__free_unpacked(m, NULL);
    buf_free(&b);
}
END_TEST

START_TEST(test_sealed_content_fields)
{
    uint8_t sender[24], ct[16];
    struct wire_sealed_content out;
    struct wire_diag d;
    memset(sender, 1, sizeof sender);
    memset(ct, 2, sizeof ct);
    enum { OK, NO_VER, VER2, SENDER_LEN, NO_SENDER, DEV0, TYPE1, TYPE4, NO_TYPE, CT_EMPTY, NO_CT,
           TYPE2, N };
    static const struct {
        sp_status st;
        const char *field;
    } expect[N] = {
        [OK] = {SP_OK, NULL},
        [NO_VER] = {SP_ERR_INVALID_FIELD, "version"},
        [VER2] = {SP_ERR_UNSUPPORTED_VERSION, "version"},
        [SENDER_LEN] = {SP_ERR_INVALID_FIELD, "sender"},
        [NO_SENDER] = {SP_ERR_INVALID_FIELD, "sender"},
        [DEV0] = {SP_ERR_INVALID_FIELD, "sender_device"},
        [TYPE1] = {SP_ERR_INVALID_FIELD, "type"},
        [TYPE4] = {SP_ERR_INVALID_FIELD, "type"},
        [NO_TYPE] = {SP_ERR_INVALID_FIELD, "type"},
        [CT_EMPTY] = {SP_ERR_INVALID_FIELD, "ciphertext"},
        [NO_CT] = {SP_ERR_INVALID_FIELD, "ciphertext"},
        [TYPE2] = {SP_OK, NULL},
    };
    for (int c = 0; c < N; c++) {
        Sealpost__V1__SealedContent m = SEALPOST__V1__SEALED_CONTENT__INIT;
        size_t len;
        m.has_version = 1;
        m.version = 1;
        m.has_sender = 1;
        m.sender = bd(sender, SP_ADDRESS_LEN);
        m.has_sender_device = 1;
        m.sender_device = 1;
        m.has_type = 1;
        m.type = 3;
        m.has_ciphertext = 1;
        m.ciphertext = bd(ct, sizeof ct);
        switch (c) {
        case NO_VER: m.has_version = 0; break;
        case VER2: m.version = 2; break;
        case SENDER_LEN: m.sender.len = 21; break;
        case NO_SENDER: m.has_sender = 0; break;
        case DEV0: m.sender_device = 0; break;
        case TYPE1: m.type = 1; break;
        case TYPE4: m.type = 4; break;
        case NO_TYPE: m.has_type = 0; break;
        case CT_EMPTY: m.ciphertext.len = 0; break;
        case NO_CT: m.has_ciphertext = 0; break;
        case TYPE2: m.type = 2; break;
        default: break;
        }
        uint8_t *p = pb_pack(&m.base, &len);
        sp_status st = wire_decode_sealed_content(&out, &d, p, len);
        ck_assert_msg(st == expect[c].st, "case %d: got %s", c, sp_status_name(st));
        assert_diag(&d, expect[c].field, -1);
        if (st != SP_OK)
            ck_assert_ptr_null(out.ciphertext);
        wire_sealed_content_free(&out);
        free(p);
    }
}
END_TEST

/* ---------------------------------------------------------------- sealed framing */

START_TEST(test_check_sealed)
{
    static uint8_t c[SP_SEAL_OVERHEAD + 131072 + 1];
    static const struct {
        size_t len;
        sp_status st;
    } cases[] = {
        {0, SP_ERR_INVALID_FIELD},
        {1, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD - 1, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 128, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 255, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 256, SP_OK},
        {SP_SEAL_OVERHEAD + 257, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 300, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 512, SP_OK},
        {SP_SEAL_OVERHEAD + 768, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 1024, SP_OK},
        {SP_SEAL_OVERHEAD + 32768, SP_OK},
        {SP_SEAL_OVERHEAD + 65535, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 65536, SP_OK},
        {SP_SEAL_OVERHEAD + 65537, SP_ERR_INVALID_FIELD},
        {SP_SEAL_OVERHEAD + 131072, SP_ERR_INVALID_FIELD},
    };
    memset(c, 0, sizeof c);
    c[0] = SP_SEAL_VERSION;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(wire_check_sealed(c, cases[i].len) == cases[i].st, "len %zu",
                      cases[i].len);
    ck_assert_int_eq(wire_check_sealed(NULL, 0), SP_ERR_INVALID_FIELD);
    ck_assert_int_eq(wire_check_sealed(NULL, 305), SP_ERR_INVALID_FIELD);
    for (unsigned v = 0; v < 256; v++) {
        c[0] = (uint8_t)v;
        ck_assert_int_eq(wire_check_sealed(c, SP_SEAL_OVERHEAD + 256),
                         v == SP_SEAL_VERSION ? SP_OK : SP_ERR_UNSUPPORTED_VERSION);
    }
}
END_TEST

/* ---------------------------------------------------------------- known answers */

static void hex_to(uint8_t *out, size_t n, const char *hex)
{
    ck_assert_uint_eq(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* docs/PROTOCOL.md appendix A: our encoders must produce exactly these bytes
 * (fields in number order, no extras), since the token payload is what the
 * identity key signs. */
START_TEST(test_known_answer_encodings)
{
    static const char addr1[] = "9ad73d5a938160cda1829643961cef1af491975a";
    uint8_t expect[64];
    struct buf b = enc();
    struct wire_token_request t = {.timestamp = 1700000000};
    hex_to(t.address, SP_ADDRESS_LEN, addr1);
    for (int i = 0; i < SP_NONCE_LEN; i++)
        t.nonce[i] = (uint8_t)i;
    ck_assert_int_eq(wire_encode_token_payload(&b, &t), SP_OK);
    hex_to(expect, 48,
           "0801" "1214" "9ad73d5a938160cda1829643961cef1af491975a" "18" "80e2cfaa06"
           "2210" "000102030405060708090a0b0c0d0e0f");
    ck_assert_uint_eq(b.len, 48);
    ck_assert_mem_eq(b.data, expect, 48);

    uint8_t ct[16];
    memset(ct, 0xaa, sizeof ct);
    struct wire_sealed_content c = {.sender_device = 1, .type = 2, .ciphertext = ct,
                                    .ciphertext_len = sizeof ct};
    hex_to(c.sender, SP_ADDRESS_LEN, addr1);
    buf_reset(&b);
    ck_assert_int_eq(wire_encode_sealed_content(&b, &c), SP_OK);
    hex_to(expect, 46,
           "080112149ad73d5a938160cda1829643961cef1af491975a180120022a10"
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ck_assert_uint_eq(b.len, 46);
    ck_assert_mem_eq(b.data, expect, 46);
    buf_free(&b);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *rt = tcase_create("roundtrip");
    TCase *neg = tcase_create("negative");
    TCase *gen = tcase_create("generic");

    tcase_add_unchecked_fixture(rt, init_sealed, NULL);
    tcase_add_unchecked_fixture(neg, init_sealed, NULL);
    tcase_add_unchecked_fixture(gen, init_sealed, NULL);
    tcase_set_timeout(gen, 60);
    tcase_set_timeout(neg, 30);

    tcase_add_test(rt, test_roundtrip_error);
    tcase_add_test(rt, test_roundtrip_register);
    tcase_add_test(rt, test_roundtrip_token);
    tcase_add_test(rt, test_roundtrip_responses);
    tcase_add_test(rt, test_roundtrip_prekeys);
    tcase_add_test(rt, test_roundtrip_mail);
    tcase_add_test(rt, test_roundtrip_limits);
    tcase_add_test(rt, test_roundtrip_sealed_content);
    tcase_add_test(rt, test_encode_respects_cap);
    tcase_add_test(rt, test_known_answer_encodings);

    tcase_add_loop_test(gen, test_truncated_every_decoder, 0, V_N);
    tcase_add_test(gen, test_truncated_payload);
    tcase_add_loop_test(gen, test_oversized_every_decoder, 0, V_N);
    tcase_add_test(gen, test_oversized_boundaries);
    tcase_add_test(gen, test_allocation_amplification);
    tcase_add_test(gen, test_garbage_is_malformed);

    tcase_add_loop_test(neg, test_register_fields, 0, N_REG_CASES);
    tcase_add_test(neg, test_proof_fields);
    tcase_add_test(neg, test_token_fields);
    tcase_add_test(neg, test_prekey_upload_fields);
    tcase_add_test(neg, test_signed_prekey_fields);
    tcase_add_test(neg, test_bundle_fields);
    tcase_add_test(neg, test_send_fields);
    tcase_add_test(neg, test_fetch_fields);
    tcase_add_test(neg, test_ack_fields);
    tcase_add_test(neg, test_small_message_fields);
    tcase_add_test(neg, test_error_fields);
    tcase_add_test(neg, test_limits_fields);
    tcase_add_test(neg, test_sealed_content_fields);
    tcase_add_test(neg, test_check_sealed);

    suite_add_tcase(s, rt);
    suite_add_tcase(s, neg);
    suite_add_tcase(s, gen);
    return s;
}

int main(void)
{
    return tu_run(wire_suite());
}
