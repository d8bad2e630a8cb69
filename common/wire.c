/*
 * wire.c: protobuf bytes <-> validated sealpost structs (see wire.h).
 *
 * Role: the only translation unit that includes the generated protobuf-c
 * header. Everything above it (handlers, store, SDK) sees the structs of
 * wire.h, which hold only checked values.
 *
 * Invariants:
 *  - Every decoder compares the input length with a per-message ceiling
 *    (WIRE_MAX_*, derived from limits.h) before protobuf-c sees a byte.
 *  - protobuf-c unpacks through a budgeted allocator: at most 4 x input +
 *    64 KiB may be allocated for one message. protobuf-c spends ~60 bytes of
 *    heap on a 2-byte unknown field or empty sub-message, so without the
 *    budget an 8 MiB SendRequest could cost the relay hundreds of MiB.
 *    Running out of budget is reported as SP_ERR_TOO_LARGE.
 *  - The unpacked message is freed at `out:` on every path; on failure the
 *    output struct is zeroed and owns nothing, and `diag` names the field.
 *  - Encoders point protobuf-c at the caller's bytes (no copies) and pack
 *    straight into the caller's capped buf (get_packed_size, buf_reserve,
 *    pack). Array bounds of the input structs are checked (SP_ERR_USAGE);
 *    the encoded values are not: the peer's decoder is the validator.
 *
 * Thread rules: no shared state; the allocator budget lives on the stack of
 * the decoding call. Calls only protobuf-c, buf, limits and secmem.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include "sealpost.pb-c.h"
#include "secmem.h"

/* ---- per-message size ceilings (bytes of the serialised message) */

/* Error, the small responses, Bundle, Limits, TokenPayload: a few hundred
 * bytes at most; the rest is headroom for fields added in later versions. */
#define WIRE_MAX_SMALL 4096u
/* 100 prekeys of 33-byte keys, ~10 bytes of tags/ids each, plus slack. */
#define WIRE_MAX_PREKEY_UPLOAD (SP_HARD_MAX_PREKEYS_PER_UPLOAD * (SP_PUBKEY_LEN + 16u) + 1024u)
#define WIRE_MAX_SIGNED_PREKEY 512u
/* A RegisterPayload carries a full prekey upload plus identity, signed prekey, nonce. */
#define WIRE_MAX_REGISTER_PAYLOAD (WIRE_MAX_PREKEY_UPLOAD + 1024u)
#define WIRE_MAX_TOKEN_PAYLOAD 1024u
/* SignedProof = payload + 64-byte signature + tags and lengths. */
#define WIRE_PROOF_OVERHEAD (SP_SIGNATURE_LEN + 64u)
#define WIRE_MAX_SEND ((size_t)SP_HARD_MAX_BODY_BYTES)
/* Client side: a full page of maximal envelopes (~64 MiB). */
#define WIRE_MAX_FETCH                                                                             \
    ((size_t)SP_HARD_MAX_FETCH_ENVELOPES * (SP_HARD_MAX_ENVELOPE_BYTES + 64u) + 64u)
#define WIRE_MAX_ACK (SP_HARD_MAX_ACK_IDS * (SP_MESSAGE_ID_LEN + 2u) + 1024u)
/* The inner plaintext must fit the largest bucket (minus its 4-byte length). */
#define WIRE_MAX_SEALED_CONTENT ((size_t)SP_SEAL_MAX_BUCKET)

#define WIRE_ALLOC_SLACK (64u * 1024)
#define WIRE_MAX_ERROR_CODE 0xFFFFu

/* ---- diagnosis */

static void diag_reset(struct wire_diag *diag)
{
    if (diag != NULL)
        *diag = (struct wire_diag){.field = NULL, .index = -1};
}

static sp_status fail(struct wire_diag *diag, sp_status st, const char *field, int index)
{
    if (diag != NULL)
        *diag = (struct wire_diag){.field = field, .index = index};
    return st;
}

/* ENSURE that also names the offending field and item in `diag`. */
#define ENSURE_FIELD(cond, status, field, index)                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            st = fail(diag, (status), (field), (index));                                           \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* ---- unpacking with an allocation budget */

struct budget {
    size_t left;
    bool exhausted;
};

static void *budget_alloc(void *data, size_t size)
{
    struct budget *b = data;
    if (size > b->left) {
        b->exhausted = true;
        return NULL;
    }
    b->left -= size;
    return malloc(size > 0 ? size : 1);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* One unpacked message together with the allocator that must free it. */
struct unpacked {
    ProtobufCMessage *msg;
    struct budget budget;
    ProtobufCAllocator alloc;
};

/* Size check, then unpack. On failure names `field` (NULL = the body). */
static sp_status unpack(struct unpacked *u, struct wire_diag *diag, const char *field,
                        const ProtobufCMessageDescriptor *desc, size_t ceiling, const uint8_t *p,
                        size_t len)
{
    static const uint8_t empty[1];
    u->msg = NULL;
    if (len > ceiling)
        return fail(diag, SP_ERR_TOO_LARGE, field, -1);
    u->budget = (struct budget){.left = 4 * len + WIRE_ALLOC_SLACK};
    u->alloc = (ProtobufCAllocator){budget_alloc, budget_free, &u->budget};
    if (p == NULL) {
        if (len > 0)
            return fail(diag, SP_ERR_USAGE, field, -1);
        p = empty;
    }
    u->msg = protobuf_c_message_unpack(desc, &u->alloc, len, p);
    if (u->msg == NULL)
        return fail(diag, u->budget.exhausted ? SP_ERR_TOO_LARGE : SP_ERR_MALFORMED, field, -1);
    return SP_OK;
}

static void unpacked_free(struct unpacked *u)
{
    if (u->msg != NULL)
        protobuf_c_message_free_unpacked(u->msg, &u->alloc);
    u->msg = NULL;
}

/* ---- field checks shared by the decoders */

static sp_status check_present(struct wire_diag *diag, const char *field, int index,
                               protobuf_c_boolean has)
{
    return has ? SP_OK : fail(diag, SP_ERR_INVALID_FIELD, field, index);
}

static sp_status check_version(struct wire_diag *diag, protobuf_c_boolean has, uint32_t version)
{
    if (!has)
        return fail(diag, SP_ERR_INVALID_FIELD, "version", -1);
    if (version != SP_PROTOCOL_VERSION)
        return fail(diag, SP_ERR_UNSUPPORTED_VERSION, "version", -1);
    return SP_OK;
}

/* A bytes field that must be present with exactly n bytes; copied to out. */
static sp_status copy_fixed(struct wire_diag *diag, const char *field, int index, uint8_t *out,
                            size_t n, protobuf_c_boolean has, ProtobufCBinaryData b)
{
    if (!has || b.len != n)
        return fail(diag, SP_ERR_INVALID_FIELD, field, index);
    memcpy(out, b.data, n);
    return SP_OK;
}

/* A 33-byte libsignal public key: 0x05 || X25519. */
static sp_status copy_pubkey(struct wire_diag *diag, const char *field, int index,
                             uint8_t out[static SP_PUBKEY_LEN], protobuf_c_boolean has,
                             ProtobufCBinaryData b)
{
    if (!has || b.len != SP_PUBKEY_LEN || b.data[0] != SP_PUBKEY_TYPE)
        return fail(diag, SP_ERR_INVALID_FIELD, field, index);
    memcpy(out, b.data, SP_PUBKEY_LEN);
    return SP_OK;
}

static sp_status check_key_id(struct wire_diag *diag, const char *field, int index,
                              protobuf_c_boolean has, uint32_t id)
{
    if (!has || id < 1 || id > SP_MAX_KEY_ID)
        return fail(diag, SP_ERR_INVALID_FIELD, field, index);
    return SP_OK;
}

static sp_status check_identity(struct wire_diag *diag, protobuf_c_boolean has_reg, uint32_t reg,
                                protobuf_c_boolean has_dev, uint32_t dev)
{
    if (!has_reg || reg < 1 || reg > SP_MAX_REGISTRATION_ID)
        return fail(diag, SP_ERR_INVALID_FIELD, "registration_id", -1);
    if (!has_dev || dev != SP_DEVICE_ID)
        return fail(diag, SP_ERR_INVALID_FIELD, "device_id", -1);
    return SP_OK;
}

/* A sealed envelope's framing (wire_check_sealed), reported against `field`. */
static sp_status check_content(struct wire_diag *diag, const char *field, int index,
                               protobuf_c_boolean has, ProtobufCBinaryData b)
{
    sp_status st = has ? wire_check_sealed(b.data, b.len) : SP_ERR_INVALID_FIELD;
    return st == SP_OK ? SP_OK : fail(diag, st, field, index);
}

/* Field names of a (signed) prekey in each place one can occur. */
struct key_fields {
    const char *self, *id, *public_key, *signature;
};
static const struct key_fields F_PREKEYS = {"prekeys", "prekeys.id", "prekeys.public_key", NULL};
static const struct key_fields F_PREKEY = {"prekey", "prekey.id", "prekey.public_key", NULL};
static const struct key_fields F_SIGNED_PREKEY = {"signed_prekey", "signed_prekey.id",
                                                  "signed_prekey.public_key",
                                                  "signed_prekey.signature"};
static const struct key_fields F_SIGNED_PREKEY_BODY = {NULL, "id", "public_key", "signature"};

static sp_status decode_prekey(struct wire_diag *diag, const struct key_fields *f, int index,
                               struct wire_prekey *out, const Sealpost__V1__PreKey *m)
{
    sp_status st;
    ENSURE_FIELD(m != NULL, SP_ERR_INVALID_FIELD, f->self, index);
    TRY(check_key_id(diag, f->id, index, m->has_id, m->id));
    TRY(copy_pubkey(diag, f->public_key, index, out->public_key, m->has_public_key,
                    m->public_key));
    out->id = m->id;
out:
    return st;
}

static sp_status decode_signed_prekey(struct wire_diag *diag, const struct key_fields *f,
                                      struct wire_signed_prekey *out,
                                      const Sealpost__V1__SignedPreKey *m)
{
    sp_status st;
    ENSURE_FIELD(m != NULL, SP_ERR_INVALID_FIELD, f->self, -1);
    TRY(check_key_id(diag, f->id, -1, m->has_id, m->id));
    TRY(copy_pubkey(diag, f->public_key, -1, out->public_key, m->has_public_key,
                    m->public_key));
    TRY(copy_fixed(diag, f->signature, -1, out->signature, SP_SIGNATURE_LEN, m->has_signature,
                   m->signature));
    out->id = m->id;
out:
    return st;
}

/* 0 or 1 .. SP_HARD_MAX_PREKEYS_PER_UPLOAD prekeys with unique ids. */
static sp_status decode_prekey_list(struct wire_diag *diag,
                                    struct wire_prekey out[static SP_HARD_MAX_PREKEYS_PER_UPLOAD],
                                    size_t *n_out, Sealpost__V1__PreKey *const *keys, size_t n,
                                    bool allow_empty)
{
    sp_status st = SP_OK;
    ENSURE_FIELD(n <= SP_HARD_MAX_PREKEYS_PER_UPLOAD, SP_ERR_TOO_MANY, "prekeys", -1);
    ENSURE_FIELD(n > 0 || allow_empty, SP_ERR_INVALID_FIELD, "prekeys", -1);
    for (size_t i = 0; i < n; i++) {
        TRY(decode_prekey(diag, &F_PREKEYS, (int)i, &out[i], keys[i]));
        /* n <= 100: quadratic is cheaper than anything cleverer. */
        for (size_t j = 0; j < i; j++)
            ENSURE_FIELD(out[j].id != out[i].id, SP_ERR_INVALID_FIELD, "prekeys.id", (int)i);
    }
    *n_out = n;
out:
    return st;
}

/* ---- encoding helpers */

/* protobuf-c's pack only reads through these pointers, but its structs are
 * not const-correct; the cast goes through uintptr_t once, here. */
static ProtobufCBinaryData bin(const uint8_t *p, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)(uintptr_t)p};
}

static sp_status pack(struct buf *out, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    sp_status st = buf_reserve(out, n);
    if (st != SP_OK || n == 0)
        return st;
    if (protobuf_c_message_pack(m, out->data + out->len) != n)
        return SP_ERR_INTERNAL;
    out->len += n;
    return SP_OK;
}

static void prekey_msg(Sealpost__V1__PreKey *m, const struct wire_prekey *k)
{
    *m = (Sealpost__V1__PreKey)SEALPOST__V1__PRE_KEY__INIT;
    m->has_id = 1;
    m->id = k->id;
    m->has_public_key = 1;
    m->public_key = bin(k->public_key, SP_PUBKEY_LEN);
}

static void signed_prekey_msg(Sealpost__V1__SignedPreKey *m, const struct wire_signed_prekey *k)
{
    *m = (Sealpost__V1__SignedPreKey)SEALPOST__V1__SIGNED_PRE_KEY__INIT;
    m->has_id = 1;
    m->id = k->id;
    m->has_public_key = 1;
    m->public_key = bin(k->public_key, SP_PUBKEY_LEN);
    m->has_signature = 1;
    m->signature = bin(k->signature, SP_SIGNATURE_LEN);
}

/* Fills the caller's arrays (of at least n entries) with PreKey messages. */
static void prekey_list_msg(Sealpost__V1__PreKey *msgs, Sealpost__V1__PreKey **ptrs,
                            const struct wire_prekey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        prekey_msg(&msgs[i], &keys[i]);
        ptrs[i] = &msgs[i];
    }
}

/* ---------------------------------------------------------------- Error */

sp_status wire_encode_error(struct buf *out, const struct wire_error *in)
{
    Sealpost__V1__Error m = SEALPOST__V1__ERROR__INIT;
    char message[sizeof in->message];
    size_t n = strnlen(in->message, sizeof message - 1);
    memcpy(message, in->message, n);
    message[n] = '\0';
    m.has_code = 1;
    m.code = (uint32_t)in->code;
    m.message = message;
    m.has_retry_after_s = in->retry_after_s != 0;
    m.retry_after_s = in->retry_after_s;
    m.has_index = in->has_index;
    m.index = in->index;
    m.has_remaining = in->has_remaining;
    m.remaining = in->remaining;
    return pack(out, &m.base);
}

sp_status wire_decode_error(struct wire_error *out, const uint8_t *p, size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__Error *m = NULL;

    *out = (struct wire_error){0};
    TRY(unpack(&u, diag, NULL, &sealpost__v1__error__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__Error *)u.msg;
    /* Codes are append-only: keep one we do not know yet (sp_strerror is
     * total), but refuse values no sealpost version will ever use. */
    ENSURE_FIELD(m->has_code && m->code <= WIRE_MAX_ERROR_CODE, SP_ERR_INVALID_FIELD, "code", -1);
    out->code = (sp_status)m->code;
    if (m->message != NULL) {
        /* The message ends up in logs: keep printable ASCII only, bounded. */
        size_t n = strnlen(m->message, sizeof out->message - 1);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)m->message[i];
            out->message[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        out->message[n] = '\0';
    }
    out->retry_after_s = m->has_retry_after_s ? m->retry_after_s : 0;
    out->has_index = m->has_index;
    out->index = m->has_index ? m->index : 0;
    out->has_remaining = m->has_remaining;
    out->remaining = m->has_remaining ? m->remaining : 0;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_error){0};
    return st;
}

/* ---------------------------------------------------------------- signed proofs */

/* Unpacks a SignedProof and takes an owned copy of its payload bytes. */
static sp_status decode_proof(struct wire_diag *diag, uint8_t **payload, size_t *payload_len,
                              uint8_t signature[static SP_SIGNATURE_LEN], size_t max_payload,
                              const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__SignedProof *m = NULL;

    TRY(unpack(&u, diag, NULL, &sealpost__v1__signed_proof__descriptor,
               max_payload + WIRE_PROOF_OVERHEAD, p, len));
    m = (const Sealpost__V1__SignedProof *)u.msg;
    ENSURE_FIELD(m->has_payload && m->payload.len > 0, SP_ERR_INVALID_FIELD, "payload", -1);
    ENSURE_FIELD(m->payload.len <= max_payload, SP_ERR_TOO_LARGE, "payload", -1);
    TRY(copy_fixed(diag, "signature", -1, signature, SP_SIGNATURE_LEN, m->has_signature,
                   m->signature));
    *payload = malloc(m->payload.len);
    ENSURE(*payload != NULL, SP_ERR_NOMEM);
    memcpy(*payload, m->payload.data, m->payload.len);
    *payload_len = m->payload.len;
out:
    unpacked_free(&u);
    return st;
}

sp_status wire_decode_register(struct wire_register *out, struct wire_diag *diag,
                               const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__RegisterPayload *m = NULL;

    *out = (struct wire_register){0};
    diag_reset(diag);
    TRY(decode_proof(diag, &out->payload, &out->payload_len, out->signature,
                     WIRE_MAX_REGISTER_PAYLOAD, p, len));
    TRY(unpack(&u, diag, "payload", &sealpost__v1__register_payload__descriptor,
               WIRE_MAX_REGISTER_PAYLOAD, out->payload, out->payload_len));
    m = (const Sealpost__V1__RegisterPayload *)u.msg;
    TRY(check_version(diag, m->has_version, m->version));
    TRY(copy_pubkey(diag, "identity_key", -1, out->identity_key, m->has_identity_key,
                    m->identity_key));
    TRY(check_identity(diag, m->has_registration_id, m->registration_id, m->has_device_id,
                       m->device_id));
    TRY(decode_signed_prekey(diag, &F_SIGNED_PREKEY, &out->signed_prekey, m->signed_prekey));
    TRY(decode_prekey_list(diag, out->prekeys, &out->n_prekeys, m->prekeys, m->n_prekeys, true));
    TRY(check_present(diag, "timestamp", -1, m->has_timestamp));
    TRY(copy_fixed(diag, "nonce", -1, out->nonce, SP_NONCE_LEN, m->has_nonce, m->nonce));
    ENSURE_FIELD(m->kem_prekey == NULL, SP_ERR_INVALID_FIELD, "kem_prekey", -1);
    out->registration_id = m->registration_id;
    out->device_id = m->device_id;
    out->timestamp = m->timestamp;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_register_free(out);
    return st;
}

sp_status wire_encode_register_payload(struct buf *out, const struct wire_register *in)
{
    Sealpost__V1__RegisterPayload m = SEALPOST__V1__REGISTER_PAYLOAD__INIT;
    Sealpost__V1__SignedPreKey spk;
    Sealpost__V1__PreKey keys[SP_HARD_MAX_PREKEYS_PER_UPLOAD];
    Sealpost__V1__PreKey *ptrs[SP_HARD_MAX_PREKEYS_PER_UPLOAD];

    if (in->n_prekeys > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
        return SP_ERR_USAGE;
    signed_prekey_msg(&spk, &in->signed_prekey);
    prekey_list_msg(keys, ptrs, in->prekeys, in->n_prekeys);
    m.has_version = 1;
    m.version = SP_PROTOCOL_VERSION;
    m.has_identity_key = 1;
    m.identity_key = bin(in->identity_key, SP_PUBKEY_LEN);
    m.has_registration_id = 1;
    m.registration_id = in->registration_id;
    m.has_device_id = 1;
    m.device_id = in->device_id;
    m.signed_prekey = &spk;
    m.n_prekeys = in->n_prekeys;
    m.prekeys = in->n_prekeys > 0 ? ptrs : NULL;
    m.has_timestamp = 1;
    m.timestamp = in->timestamp;
    m.has_nonce = 1;
    m.nonce = bin(in->nonce, SP_NONCE_LEN);
    return pack(out, &m.base);
}

void wire_register_free(struct wire_register *r)
{
    if (r == NULL)
        return;
    free(r->payload);
    *r = (struct wire_register){0};
}

sp_status wire_decode_token_request(struct wire_token_request *out, struct wire_diag *diag,
                                    const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__TokenPayload *m = NULL;

    *out = (struct wire_token_request){0};
    diag_reset(diag);
    TRY(decode_proof(diag, &out->payload, &out->payload_len, out->signature,
                     WIRE_MAX_TOKEN_PAYLOAD, p, len));
    TRY(unpack(&u, diag, "payload", &sealpost__v1__token_payload__descriptor,
               WIRE_MAX_TOKEN_PAYLOAD, out->payload, out->payload_len));
    m = (const Sealpost__V1__TokenPayload *)u.msg;
    TRY(check_version(diag, m->has_version, m->version));
    TRY(copy_fixed(diag, "address", -1, out->address, SP_ADDRESS_LEN, m->has_address,
                   m->address));
    TRY(check_present(diag, "timestamp", -1, m->has_timestamp));
    TRY(copy_fixed(diag, "nonce", -1, out->nonce, SP_NONCE_LEN, m->has_nonce, m->nonce));
    out->timestamp = m->timestamp;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_token_request_free(out);
    return st;
}

sp_status wire_encode_token_payload(struct buf *out, const struct wire_token_request *in)
{
    Sealpost__V1__TokenPayload m = SEALPOST__V1__TOKEN_PAYLOAD__INIT;
    m.has_version = 1;
    m.version = SP_PROTOCOL_VERSION;
    m.has_address = 1;
    m.address = bin(in->address, SP_ADDRESS_LEN);
    m.has_timestamp = 1;
    m.timestamp = in->timestamp;
    m.has_nonce = 1;
    m.nonce = bin(in->nonce, SP_NONCE_LEN);
    return pack(out, &m.base);
}

void wire_token_request_free(struct wire_token_request *r)
{
    if (r == NULL)
        return;
    free(r->payload);
    *r = (struct wire_token_request){0};
}

sp_status wire_encode_signed_proof(struct buf *out, const uint8_t *payload, size_t payload_len,
                                   const uint8_t signature[static SP_SIGNATURE_LEN])
{
    Sealpost__V1__SignedProof m = SEALPOST__V1__SIGNED_PROOF__INIT;
    if (payload == NULL && payload_len > 0)
        return SP_ERR_USAGE;
    m.has_payload = 1;
    m.payload = bin(payload, payload_len);
    m.has_signature = 1;
    m.signature = bin(signature, SP_SIGNATURE_LEN);
    return pack(out, &m.base);
}

sp_status wire_encode_register_response(struct buf *out, const struct wire_register_response *in)
{
    Sealpost__V1__RegisterResponse m = SEALPOST__V1__REGISTER_RESPONSE__INIT;
    m.has_address = 1;
    m.address = bin(in->address, SP_ADDRESS_LEN);
    m.has_created = 1;
    m.created = in->created;
    return pack(out, &m.base);
}

sp_status wire_decode_register_response(struct wire_register_response *out, const uint8_t *p,
                                        size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__RegisterResponse *m = NULL;

    *out = (struct wire_register_response){0};
    TRY(unpack(&u, diag, NULL, &sealpost__v1__register_response__descriptor, WIRE_MAX_SMALL, p,
               len));
    m = (const Sealpost__V1__RegisterResponse *)u.msg;
    TRY(copy_fixed(diag, "address", -1, out->address, SP_ADDRESS_LEN, m->has_address,
                   m->address));
    TRY(check_present(diag, "created", -1, m->has_created));
    out->created = m->created;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_register_response){0};
    return st;
}

sp_status wire_encode_token_response(struct buf *out, const struct wire_token_response *in)
{
    Sealpost__V1__TokenResponse m = SEALPOST__V1__TOKEN_RESPONSE__INIT;
    m.has_token = 1;
    m.token = bin(in->token, SP_TOKEN_LEN);
    m.has_expires_at = 1;
    m.expires_at = in->expires_at;
    return pack(out, &m.base);
}

sp_status wire_decode_token_response(struct wire_token_response *out, const uint8_t *p,
                                     size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__TokenResponse *m = NULL;

    *out = (struct wire_token_response){0};
    TRY(unpack(&u, diag, NULL, &sealpost__v1__token_response__descriptor, WIRE_MAX_SMALL, p,
               len));
    m = (const Sealpost__V1__TokenResponse *)u.msg;
    TRY(copy_fixed(diag, "token", -1, out->token, SP_TOKEN_LEN, m->has_token, m->token));
    TRY(check_present(diag, "expires_at", -1, m->has_expires_at));
    out->expires_at = m->expires_at;
out:
    /* The unpacked copy of the token is freed without a wipe: protobuf-c
     * owns it. Ours is wiped on failure. */
    unpacked_free(&u);
    if (st != SP_OK)
        sp_wipe(out, sizeof *out);
    return st;
}

/* ---------------------------------------------------------------- prekeys */

sp_status wire_decode_prekey_upload(struct wire_prekey_upload *out, struct wire_diag *diag,
                                    const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__PreKeyUpload *m = NULL;

    *out = (struct wire_prekey_upload){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__pre_key_upload__descriptor, WIRE_MAX_PREKEY_UPLOAD,
               p, len));
    m = (const Sealpost__V1__PreKeyUpload *)u.msg;
    TRY(decode_prekey_list(diag, out->prekeys, &out->n, m->prekeys, m->n_prekeys, false));
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_prekey_upload){0};
    return st;
}

sp_status wire_encode_prekey_upload(struct buf *out, const struct wire_prekey_upload *in)
{
    Sealpost__V1__PreKeyUpload m = SEALPOST__V1__PRE_KEY_UPLOAD__INIT;
    Sealpost__V1__PreKey keys[SP_HARD_MAX_PREKEYS_PER_UPLOAD];
    Sealpost__V1__PreKey *ptrs[SP_HARD_MAX_PREKEYS_PER_UPLOAD];

    if (in->n > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
        return SP_ERR_USAGE;
    prekey_list_msg(keys, ptrs, in->prekeys, in->n);
    m.n_prekeys = in->n;
    m.prekeys = in->n > 0 ? ptrs : NULL;
    return pack(out, &m.base);
}

sp_status wire_encode_prekey_count(struct buf *out, uint32_t count)
{
    Sealpost__V1__PreKeyCount m = SEALPOST__V1__PRE_KEY_COUNT__INIT;
    m.has_count = 1;
    m.count = count;
    return pack(out, &m.base);
}

sp_status wire_decode_prekey_count(uint32_t *count, const uint8_t *p, size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__PreKeyCount *m = NULL;

    *count = 0;
    TRY(unpack(&u, diag, NULL, &sealpost__v1__pre_key_count__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__PreKeyCount *)u.msg;
    TRY(check_present(diag, "count", -1, m->has_count));
    *count = m->count;
out:
    unpacked_free(&u);
    return st;
}

sp_status wire_decode_signed_prekey(struct wire_signed_prekey *out, struct wire_diag *diag,
                                    const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};

    *out = (struct wire_signed_prekey){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__signed_pre_key__descriptor, WIRE_MAX_SIGNED_PREKEY,
               p, len));
    TRY(decode_signed_prekey(diag, &F_SIGNED_PREKEY_BODY, out,
                             (const Sealpost__V1__SignedPreKey *)u.msg));
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_signed_prekey){0};
    return st;
}

sp_status wire_encode_signed_prekey(struct buf *out, const struct wire_signed_prekey *in)
{
    Sealpost__V1__SignedPreKey m;
    signed_prekey_msg(&m, in);
    return pack(out, &m.base);
}

sp_status wire_encode_bundle(struct buf *out, const struct wire_bundle *in)
{
    Sealpost__V1__Bundle m = SEALPOST__V1__BUNDLE__INIT;
    Sealpost__V1__SignedPreKey spk;
    Sealpost__V1__PreKey pk;

    signed_prekey_msg(&spk, &in->signed_prekey);
    m.has_identity_key = 1;
    m.identity_key = bin(in->identity_key, SP_PUBKEY_LEN);
    m.has_registration_id = 1;
    m.registration_id = in->registration_id;
    m.has_device_id = 1;
    m.device_id = in->device_id;
    m.signed_prekey = &spk;
    if (in->has_prekey) {
        prekey_msg(&pk, &in->prekey);
        m.prekey = &pk;
    }
    return pack(out, &m.base);
}

sp_status wire_decode_bundle(struct wire_bundle *out, struct wire_diag *diag, const uint8_t *p,
                             size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__Bundle *m = NULL;

    *out = (struct wire_bundle){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__bundle__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__Bundle *)u.msg;
    TRY(copy_pubkey(diag, "identity_key", -1, out->identity_key, m->has_identity_key,
                    m->identity_key));
    TRY(check_identity(diag, m->has_registration_id, m->registration_id, m->has_device_id,
                       m->device_id));
    TRY(decode_signed_prekey(diag, &F_SIGNED_PREKEY, &out->signed_prekey, m->signed_prekey));
    if (m->prekey != NULL) {
        TRY(decode_prekey(diag, &F_PREKEY, -1, &out->prekey, m->prekey));
        out->has_prekey = true;
    }
    ENSURE_FIELD(m->kem_prekey == NULL, SP_ERR_INVALID_FIELD, "kem_prekey", -1);
    out->registration_id = m->registration_id;
    out->device_id = m->device_id;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_bundle){0};
    return st;
}

/* ---------------------------------------------------------------- mail */

sp_status wire_decode_send(struct wire_send *out, struct wire_diag *diag, const uint8_t *p,
                           size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__SendRequest *m = NULL;
    size_t total = 0, off = 0;

    *out = (struct wire_send){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__send_request__descriptor, WIRE_MAX_SEND, p, len));
    m = (const Sealpost__V1__SendRequest *)u.msg;
    ENSURE_FIELD(m->n_envelopes > 0, SP_ERR_INVALID_FIELD, "envelopes", -1);
    ENSURE_FIELD(m->n_envelopes <= SP_HARD_MAX_ENVELOPES_PER_REQ, SP_ERR_TOO_MANY, "envelopes",
                 -1);
    /* Validate everything first, then allocate once and copy. */
    for (size_t i = 0; i < m->n_envelopes; i++) {
        const Sealpost__V1__OutgoingEnvelope *e = m->envelopes[i];
        int ix = (int)i;
        ENSURE_FIELD(e != NULL, SP_ERR_INVALID_FIELD, "envelopes", ix);
        ENSURE_FIELD(e->has_recipient && e->recipient.len == SP_ADDRESS_LEN,
                     SP_ERR_INVALID_FIELD, "envelopes.recipient", ix);
        ENSURE_FIELD(e->has_message_id && e->message_id.len == SP_MESSAGE_ID_LEN,
                     SP_ERR_INVALID_FIELD, "envelopes.message_id", ix);
        TRY(check_content(diag, "envelopes.content", ix, e->has_content, e->content));
        total += e->content.len; /* <= 1000 * 65585: no overflow */
    }
    out->envelopes = calloc(m->n_envelopes, sizeof *out->envelopes);
    out->storage = malloc(total);
    ENSURE(out->envelopes != NULL && out->storage != NULL, SP_ERR_NOMEM);
    for (size_t i = 0; i < m->n_envelopes; i++) {
        const Sealpost__V1__OutgoingEnvelope *e = m->envelopes[i];
        struct wire_out_envelope *o = &out->envelopes[i];
        memcpy(o->recipient, e->recipient.data, SP_ADDRESS_LEN);
        memcpy(o->message_id, e->message_id.data, SP_MESSAGE_ID_LEN);
        memcpy(out->storage + off, e->content.data, e->content.len);
        o->content = out->storage + off;
        o->content_len = e->content.len;
        off += e->content.len;
    }
    out->n = m->n_envelopes;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_send_free(out);
    return st;
}

sp_status wire_encode_send(struct buf *out, const struct wire_out_envelope *env, size_t n)
{
    sp_status st;
    Sealpost__V1__SendRequest m = SEALPOST__V1__SEND_REQUEST__INIT;
    Sealpost__V1__OutgoingEnvelope *msgs = NULL;
    Sealpost__V1__OutgoingEnvelope **ptrs = NULL;

    ENSURE(n <= SP_HARD_MAX_ENVELOPES_PER_REQ && (env != NULL || n == 0), SP_ERR_USAGE);
    if (n > 0) {
        msgs = calloc(n, sizeof *msgs);
        ptrs = calloc(n, sizeof *ptrs);
        ENSURE(msgs != NULL && ptrs != NULL, SP_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        Sealpost__V1__OutgoingEnvelope *e = &msgs[i];
        *e = (Sealpost__V1__OutgoingEnvelope)SEALPOST__V1__OUTGOING_ENVELOPE__INIT;
        e->has_recipient = 1;
        e->recipient = bin(env[i].recipient, SP_ADDRESS_LEN);
        e->has_message_id = 1;
        e->message_id = bin(env[i].message_id, SP_MESSAGE_ID_LEN);
        e->has_content = 1;
        e->content = bin(env[i].content, env[i].content_len);
        ptrs[i] = e;
    }
    m.n_envelopes = n;
    m.envelopes = ptrs;
    TRY(pack(out, &m.base));
out:
    free(ptrs);
    free(msgs);
    return st;
}

void wire_send_free(struct wire_send *s)
{
    if (s == NULL)
        return;
    free(s->envelopes);
    free(s->storage);
    *s = (struct wire_send){0};
}

sp_status wire_encode_send_response(struct buf *out, const struct wire_send_response *in)
{
    Sealpost__V1__SendResponse m = SEALPOST__V1__SEND_RESPONSE__INIT;
    m.has_stored = 1;
    m.stored = in->stored;
    m.has_duplicates = 1;
    m.duplicates = in->duplicates;
    return pack(out, &m.base);
}

sp_status wire_decode_send_response(struct wire_send_response *out, const uint8_t *p, size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__SendResponse *m = NULL;

    *out = (struct wire_send_response){0};
    TRY(unpack(&u, diag, NULL, &sealpost__v1__send_response__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__SendResponse *)u.msg;
    TRY(check_present(diag, "stored", -1, m->has_stored));
    TRY(check_present(diag, "duplicates", -1, m->has_duplicates));
    out->stored = m->stored;
    out->duplicates = m->duplicates;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct wire_send_response){0};
    return st;
}

sp_status wire_encode_fetch(struct buf *out, const struct wire_envelope *env, size_t n,
                            uint64_t cursor, bool more)
{
    sp_status st;
    Sealpost__V1__FetchResponse m = SEALPOST__V1__FETCH_RESPONSE__INIT;
    Sealpost__V1__Envelope *msgs = NULL;
    Sealpost__V1__Envelope **ptrs = NULL;

    ENSURE(n <= SP_HARD_MAX_FETCH_ENVELOPES && (env != NULL || n == 0), SP_ERR_USAGE);
    if (n > 0) {
        msgs = calloc(n, sizeof *msgs);
        ptrs = calloc(n, sizeof *ptrs);
        ENSURE(msgs != NULL && ptrs != NULL, SP_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        Sealpost__V1__Envelope *e = &msgs[i];
        *e = (Sealpost__V1__Envelope)SEALPOST__V1__ENVELOPE__INIT;
        e->has_message_id = 1;
        e->message_id = bin(env[i].message_id, SP_MESSAGE_ID_LEN);
        e->has_content = 1;
        e->content = bin(env[i].content, env[i].content_len);
        e->has_received_hour = 1;
        e->received_hour = env[i].received_hour;
        ptrs[i] = e;
    }
    m.n_envelopes = n;
    m.envelopes = ptrs;
    m.has_cursor = 1;
    m.cursor = cursor;
    m.has_more = 1;
    m.more = more;
    TRY(pack(out, &m.base));
out:
    free(ptrs);
    free(msgs);
    return st;
}

sp_status wire_decode_fetch(struct wire_fetch *out, struct wire_diag *diag, const uint8_t *p,
                            size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__FetchResponse *m = NULL;
    size_t total = 0, off = 0;

    *out = (struct wire_fetch){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__fetch_response__descriptor, WIRE_MAX_FETCH, p, len));
    m = (const Sealpost__V1__FetchResponse *)u.msg;
    ENSURE_FIELD(m->n_envelopes <= SP_HARD_MAX_FETCH_ENVELOPES, SP_ERR_TOO_MANY, "envelopes", -1);
    TRY(check_present(diag, "cursor", -1, m->has_cursor));
    TRY(check_present(diag, "more", -1, m->has_more));
    for (size_t i = 0; i < m->n_envelopes; i++) {
        const Sealpost__V1__Envelope *e = m->envelopes[i];
        int ix = (int)i;
        ENSURE_FIELD(e != NULL, SP_ERR_INVALID_FIELD, "envelopes", ix);
        ENSURE_FIELD(e->has_message_id && e->message_id.len == SP_MESSAGE_ID_LEN,
                     SP_ERR_INVALID_FIELD, "envelopes.message_id", ix);
        TRY(check_content(diag, "envelopes.content", ix, e->has_content, e->content));
        TRY(check_present(diag, "envelopes.received_hour", ix, e->has_received_hour));
        total += e->content.len;
    }
    if (m->n_envelopes > 0) {
        out->envelopes = calloc(m->n_envelopes, sizeof *out->envelopes);
        out->storage = malloc(total);
        ENSURE(out->envelopes != NULL && out->storage != NULL, SP_ERR_NOMEM);
    }
    for (size_t i = 0; i < m->n_envelopes; i++) {
        const Sealpost__V1__Envelope *e = m->envelopes[i];
        struct wire_envelope *o = &out->envelopes[i];
        memcpy(o->message_id, e->message_id.data, SP_MESSAGE_ID_LEN);
        memcpy(out->storage + off, e->content.data, e->content.len);
        o->content = out->storage + off;
        o->content_len = e->content.len;
        o->received_hour = e->received_hour;
        off += e->content.len;
    }
    out->n = m->n_envelopes;
    out->cursor = m->cursor;
    out->more = m->more;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_fetch_free(out);
    return st;
}

void wire_fetch_free(struct wire_fetch *f)
{
    if (f == NULL)
        return;
    free(f->envelopes);
    free(f->storage);
    *f = (struct wire_fetch){0};
}

sp_status wire_decode_ack(struct wire_ack *out, struct wire_diag *diag, const uint8_t *p,
                          size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__AckRequest *m = NULL;

    *out = (struct wire_ack){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__ack_request__descriptor, WIRE_MAX_ACK, p, len));
    m = (const Sealpost__V1__AckRequest *)u.msg;
    ENSURE_FIELD(m->n_message_ids > 0, SP_ERR_INVALID_FIELD, "message_ids", -1);
    ENSURE_FIELD(m->n_message_ids <= SP_HARD_MAX_ACK_IDS, SP_ERR_TOO_MANY, "message_ids", -1);
    out->ids = calloc(m->n_message_ids, sizeof *out->ids);
    ENSURE(out->ids != NULL, SP_ERR_NOMEM);
    for (size_t i = 0; i < m->n_message_ids; i++)
        TRY(copy_fixed(diag, "message_ids", (int)i, out->ids[i], SP_MESSAGE_ID_LEN, 1,
                       m->message_ids[i]));
    out->n = m->n_message_ids;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_ack_free(out);
    return st;
}

sp_status wire_encode_ack(struct buf *out, const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n)
{
    sp_status st;
    Sealpost__V1__AckRequest m = SEALPOST__V1__ACK_REQUEST__INIT;
    ProtobufCBinaryData *items = NULL;

    ENSURE(n <= SP_HARD_MAX_ACK_IDS && (ids != NULL || n == 0), SP_ERR_USAGE);
    if (n > 0) {
        items = calloc(n, sizeof *items);
        ENSURE(items != NULL, SP_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++)
        items[i] = bin(ids[i], SP_MESSAGE_ID_LEN);
    m.n_message_ids = n;
    m.message_ids = items;
    TRY(pack(out, &m.base));
out:
    free(items);
    return st;
}

void wire_ack_free(struct wire_ack *a)
{
    if (a == NULL)
        return;
    free(a->ids);
    *a = (struct wire_ack){0};
}

sp_status wire_encode_ack_response(struct buf *out, uint32_t deleted)
{
    Sealpost__V1__AckResponse m = SEALPOST__V1__ACK_RESPONSE__INIT;
    m.has_deleted = 1;
    m.deleted = deleted;
    return pack(out, &m.base);
}

sp_status wire_decode_ack_response(uint32_t *deleted, const uint8_t *p, size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__AckResponse *m = NULL;

    *deleted = 0;
    TRY(unpack(&u, diag, NULL, &sealpost__v1__ack_response__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__AckResponse *)u.msg;
    TRY(check_present(diag, "deleted", -1, m->has_deleted));
    *deleted = m->deleted;
out:
    unpacked_free(&u);
    return st;
}

/* ---------------------------------------------------------------- limits */

/* Every tunable limit: the proto field names equal the struct member names. */
#define WIRE_LIMIT_FIELDS(X)                                                                       \
    X(max_body_bytes)                                                                              \
    X(max_envelope_bytes)                                                                          \
    X(max_envelopes_per_request)                                                                   \
    X(max_prekeys_per_upload)                                                                      \
    X(max_prekeys_per_account)                                                                     \
    X(mailbox_max_messages)                                                                        \
    X(mailbox_max_bytes)                                                                           \
    X(fetch_max_envelopes)                                                                         \
    X(max_wait_s)                                                                                  \
    X(max_ack_ids)                                                                                 \
    X(token_ttl_s)                                                                                 \
    X(proof_window_s)                                                                              \
    X(bundle_fetches_per_target)                                                                   \
    X(bundle_fetch_window_s)                                                                       \
    X(envelope_ttl_s)

sp_status wire_encode_limits(struct buf *out, const struct sp_limits *in)
{
    Sealpost__V1__Limits m = SEALPOST__V1__LIMITS__INIT;
    m.has_protocol_version = 1;
    m.protocol_version = SP_PROTOCOL_VERSION;
#define SET_LIMIT(f)                                                                               \
    m.has_##f = 1;                                                                                 \
    m.f = in->f;
    WIRE_LIMIT_FIELDS(SET_LIMIT)
#undef SET_LIMIT
    return pack(out, &m.base);
}

sp_status wire_decode_limits(struct sp_limits *out, const uint8_t *p, size_t len)
{
    sp_status st;
    struct wire_diag *diag = NULL;
    struct unpacked u = {0};
    const Sealpost__V1__Limits *m = NULL;

    *out = (struct sp_limits){0};
    TRY(unpack(&u, diag, NULL, &sealpost__v1__limits__descriptor, WIRE_MAX_SMALL, p, len));
    m = (const Sealpost__V1__Limits *)u.msg;
    ENSURE(m->has_protocol_version, SP_ERR_INVALID_FIELD);
    ENSURE(m->protocol_version == SP_PROTOCOL_VERSION, SP_ERR_UNSUPPORTED_VERSION);
#define GET_LIMIT(f)                                                                               \
    ENSURE(m->has_##f, SP_ERR_INVALID_FIELD);                                                      \
    out->f = m->f;
    WIRE_LIMIT_FIELDS(GET_LIMIT)
#undef GET_LIMIT
    /* A relay publishing limits beyond the hard ceilings is broken. */
    ENSURE(sp_limits_validate(out, NULL) == SP_OK, SP_ERR_INVALID_FIELD);
out:
    unpacked_free(&u);
    if (st != SP_OK)
        *out = (struct sp_limits){0};
    return st;
}

/* ---------------------------------------------------------------- sealed envelopes */

sp_status wire_check_sealed(const uint8_t *content, size_t len)
{
    if (content == NULL || len == 0)
        return SP_ERR_INVALID_FIELD;
    if (content[0] != SP_SEAL_VERSION)
        return SP_ERR_UNSUPPORTED_VERSION;
    if (len < SP_SEAL_OVERHEAD)
        return SP_ERR_INVALID_FIELD;
    size_t bucket = len - SP_SEAL_OVERHEAD;
    if (bucket < SP_SEAL_MIN_BUCKET || bucket > SP_SEAL_MAX_BUCKET || (bucket & (bucket - 1)) != 0)
        return SP_ERR_INVALID_FIELD;
    return SP_OK;
}

sp_status wire_encode_sealed_content(struct buf *out, const struct wire_sealed_content *in)
{
    Sealpost__V1__SealedContent m = SEALPOST__V1__SEALED_CONTENT__INIT;
    if (in->ciphertext == NULL && in->ciphertext_len > 0)
        return SP_ERR_USAGE;
    m.has_version = 1;
    m.version = SP_PROTOCOL_VERSION;
    m.has_sender = 1;
    m.sender = bin(in->sender, SP_ADDRESS_LEN);
    m.has_sender_device = 1;
    m.sender_device = in->sender_device;
    m.has_type = 1;
    m.type = in->type;
    m.has_ciphertext = 1;
    m.ciphertext = bin(in->ciphertext, in->ciphertext_len);
    return pack(out, &m.base);
}

sp_status wire_decode_sealed_content(struct wire_sealed_content *out, struct wire_diag *diag,
                                     const uint8_t *p, size_t len)
{
    sp_status st;
    struct unpacked u = {0};
    const Sealpost__V1__SealedContent *m = NULL;

    *out = (struct wire_sealed_content){0};
    diag_reset(diag);
    TRY(unpack(&u, diag, NULL, &sealpost__v1__sealed_content__descriptor,
               WIRE_MAX_SEALED_CONTENT, p, len));
    m = (const Sealpost__V1__SealedContent *)u.msg;
    TRY(check_version(diag, m->has_version, m->version));
    TRY(copy_fixed(diag, "sender", -1, out->sender, SP_ADDRESS_LEN, m->has_sender, m->sender));
    ENSURE_FIELD(m->has_sender_device && m->sender_device == SP_DEVICE_ID, SP_ERR_INVALID_FIELD,
                 "sender_device", -1);
    ENSURE_FIELD(m->has_type && (m->type == 2 || m->type == 3), SP_ERR_INVALID_FIELD, "type", -1);
    ENSURE_FIELD(m->has_ciphertext && m->ciphertext.len > 0 &&
                     m->ciphertext.len <= SP_SEAL_MAX_BUCKET,
                 SP_ERR_INVALID_FIELD, "ciphertext", -1);
    out->ciphertext = malloc(m->ciphertext.len);
    ENSURE(out->ciphertext != NULL, SP_ERR_NOMEM);
    memcpy(out->ciphertext, m->ciphertext.data, m->ciphertext.len);
    out->ciphertext_len = m->ciphertext.len;
    out->sender_device = m->sender_device;
    out->type = m->type;
out:
    unpacked_free(&u);
    if (st != SP_OK)
        wire_sealed_content_free(out);
    return st;
}

void wire_sealed_content_free(struct wire_sealed_content *c)
{
    if (c == NULL)
        return;
    /* Decrypted-envelope material: wipe before it goes back to the heap. */
    sp_free_secret(c->ciphertext, c->ciphertext_len);
    sp_wipe(c, sizeof *c);
}
