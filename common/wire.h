/*
 * wire.h: the only door between protobuf bytes and sealpost code.
 *
 * Every message of schema/sealpost.proto has a decoder and an encoder here.
 * Decoders take untrusted bytes and either fail without side effects or fill
 * one of the validated structs below; protobuf-c types never leave wire.c.
 * A decoder:
 *   1. rejects input over the message's hard size ceiling before unpacking
 *      (SP_ERR_TOO_LARGE),
 *   2. unpacks (SP_ERR_MALFORMED on any protobuf error, truncation included),
 *   3. checks every field: present, exact length for keys/ids/nonces, ranges
 *      (SP_ERR_INVALID_FIELD), versions (SP_ERR_UNSUPPORTED_VERSION), counts
 *      against the hard ceilings in limits.h (SP_ERR_TOO_MANY),
 *   4. copies into our struct and frees the unpacked message.
 * Unknown protobuf fields are ignored (forward compatibility); the reserved
 * ML-KEM fields are rejected in v1 (SP_ERR_INVALID_FIELD).
 *
 * When `diag` is non-NULL a failed decode names the offending field (a static
 * string such as "envelopes.recipient") and item index (-1 if none), so the
 * relay can answer with a precise Error.
 *
 * Encoders append to a capped struct buf and fail with that buf's error.
 * Structs that own memory have a NULL-safe, idempotent *_free(); the others
 * are plain values. All functions are thread-safe (no shared state).
 */
#ifndef SEALPOST_COMMON_WIRE_H
#define SEALPOST_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "limits.h"
#include "status.h"

struct wire_diag {
    const char *field; /* static string, NULL if not applicable */
    int index;         /* item index within a repeated field, -1 if none */
};

struct wire_prekey {
    uint32_t id; /* 1 .. SP_MAX_KEY_ID */
    uint8_t public_key[SP_PUBKEY_LEN];
};

struct wire_signed_prekey {
    uint32_t id; /* 1 .. SP_MAX_KEY_ID */
    uint8_t public_key[SP_PUBKEY_LEN];
    uint8_t signature[SP_SIGNATURE_LEN];
};

/* ---- Error */
struct wire_error {
    sp_status code;
    char message[256];
    uint32_t retry_after_s; /* 0 = not set */
    bool has_index;
    uint32_t index;
    bool has_remaining;
    uint32_t remaining;
};
SP_WARN_UNUSED sp_status wire_encode_error(struct buf *out, const struct wire_error *in);
SP_WARN_UNUSED sp_status wire_decode_error(struct wire_error *out, const uint8_t *p, size_t len);

/* ---- Signed proofs (register and token). `payload` is the exact signed bytes:
 * the signature covers DOMAIN || 0x00 || payload (crypto.h sp_proof_message). */
struct wire_register {
    uint8_t identity_key[SP_PUBKEY_LEN];
    uint32_t registration_id; /* 1 .. SP_MAX_REGISTRATION_ID */
    uint32_t device_id;       /* SP_DEVICE_ID */
    struct wire_signed_prekey signed_prekey;
    size_t n_prekeys; /* 0 .. SP_HARD_MAX_PREKEYS_PER_UPLOAD, ids unique */
    struct wire_prekey prekeys[SP_HARD_MAX_PREKEYS_PER_UPLOAD];
    uint64_t timestamp;
    uint8_t nonce[SP_NONCE_LEN];
    /* filled by the decoder; owned, freed by wire_register_free() */
    uint8_t *payload;
    size_t payload_len;
    uint8_t signature[SP_SIGNATURE_LEN];
};
/* body = SignedProof{payload = RegisterPayload}. Version must be 1. */
SP_WARN_UNUSED sp_status wire_decode_register(struct wire_register *out, struct wire_diag *diag,
                                              const uint8_t *p, size_t len);
/* Encodes the RegisterPayload only (ignores payload/signature members). */
SP_WARN_UNUSED sp_status wire_encode_register_payload(struct buf *out,
                                                      const struct wire_register *in);
void wire_register_free(struct wire_register *r);

struct wire_token_request {
    uint8_t address[SP_ADDRESS_LEN];
    uint64_t timestamp;
    uint8_t nonce[SP_NONCE_LEN];
    uint8_t *payload; /* owned, freed by wire_token_request_free() */
    size_t payload_len;
    uint8_t signature[SP_SIGNATURE_LEN];
};
SP_WARN_UNUSED sp_status wire_decode_token_request(struct wire_token_request *out,
                                                   struct wire_diag *diag, const uint8_t *p,
                                                   size_t len);
SP_WARN_UNUSED sp_status wire_encode_token_payload(struct buf *out,
                                                   const struct wire_token_request *in);
void wire_token_request_free(struct wire_token_request *r);

/* SignedProof{payload, signature}: used by clients after signing a payload. */
SP_WARN_UNUSED sp_status wire_encode_signed_proof(struct buf *out, const uint8_t *payload,
                                                  size_t payload_len,
                                                  const uint8_t signature[static SP_SIGNATURE_LEN]);

struct wire_register_response {
    uint8_t address[SP_ADDRESS_LEN];
    bool created;
};
SP_WARN_UNUSED sp_status wire_encode_register_response(struct buf *out,
                                                       const struct wire_register_response *in);
SP_WARN_UNUSED sp_status wire_decode_register_response(struct wire_register_response *out,
                                                       const uint8_t *p, size_t len);

struct wire_token_response {
    uint8_t token[SP_TOKEN_LEN];
    uint64_t expires_at;
};
SP_WARN_UNUSED sp_status wire_encode_token_response(struct buf *out,
                                                    const struct wire_token_response *in);
SP_WARN_UNUSED sp_status wire_decode_token_response(struct wire_token_response *out,
                                                    const uint8_t *p, size_t len);

/* ---- Prekeys */
struct wire_prekey_upload {
    size_t n; /* 1 .. SP_HARD_MAX_PREKEYS_PER_UPLOAD, ids unique within the upload */
    struct wire_prekey prekeys[SP_HARD_MAX_PREKEYS_PER_UPLOAD];
};
SP_WARN_UNUSED sp_status wire_decode_prekey_upload(struct wire_prekey_upload *out,
                                                   struct wire_diag *diag, const uint8_t *p,
                                                   size_t len);
SP_WARN_UNUSED sp_status wire_encode_prekey_upload(struct buf *out,
                                                   const struct wire_prekey_upload *in);

SP_WARN_UNUSED sp_status wire_encode_prekey_count(struct buf *out, uint32_t count);
SP_WARN_UNUSED sp_status wire_decode_prekey_count(uint32_t *count, const uint8_t *p, size_t len);

/* Body of PUT /v1/signed-prekey. */
SP_WARN_UNUSED sp_status wire_decode_signed_prekey(struct wire_signed_prekey *out,
                                                   struct wire_diag *diag, const uint8_t *p,
                                                   size_t len);
SP_WARN_UNUSED sp_status wire_encode_signed_prekey(struct buf *out,
                                                   const struct wire_signed_prekey *in);

struct wire_bundle {
    uint8_t identity_key[SP_PUBKEY_LEN];
    uint32_t registration_id;
    uint32_t device_id;
    struct wire_signed_prekey signed_prekey;
    bool has_prekey;
    struct wire_prekey prekey;
};
SP_WARN_UNUSED sp_status wire_encode_bundle(struct buf *out, const struct wire_bundle *in);
SP_WARN_UNUSED sp_status wire_decode_bundle(struct wire_bundle *out, struct wire_diag *diag,
                                            const uint8_t *p, size_t len);

/* ---- Mail */
struct wire_out_envelope {
    uint8_t recipient[SP_ADDRESS_LEN];
    uint8_t message_id[SP_MESSAGE_ID_LEN];
    const uint8_t *content; /* points into the owning struct's storage */
    size_t content_len;     /* a valid sealed-envelope length (wire_check_sealed) */
};

struct wire_send {
    size_t n; /* 1 .. SP_HARD_MAX_ENVELOPES_PER_REQ */
    struct wire_out_envelope *envelopes;
    uint8_t *storage; /* owned; freed by wire_send_free() */
};
SP_WARN_UNUSED sp_status wire_decode_send(struct wire_send *out, struct wire_diag *diag,
                                          const uint8_t *p, size_t len);
SP_WARN_UNUSED sp_status wire_encode_send(struct buf *out, const struct wire_out_envelope *env,
                                          size_t n);
void wire_send_free(struct wire_send *s);

struct wire_send_response {
    uint32_t stored;
    uint32_t duplicates;
};
SP_WARN_UNUSED sp_status wire_encode_send_response(struct buf *out,
                                                   const struct wire_send_response *in);
SP_WARN_UNUSED sp_status wire_decode_send_response(struct wire_send_response *out,
                                                   const uint8_t *p, size_t len);

struct wire_envelope {
    uint8_t message_id[SP_MESSAGE_ID_LEN];
    const uint8_t *content; /* borrowed when encoding; owned by wire_fetch when decoded */
    size_t content_len;
    uint64_t received_hour;
};

struct wire_fetch {
    size_t n; /* 0 .. SP_HARD_MAX_FETCH_ENVELOPES */
    struct wire_envelope *envelopes;
    uint64_t cursor;
    bool more;
    uint8_t *storage; /* owned; freed by wire_fetch_free() */
};
SP_WARN_UNUSED sp_status wire_encode_fetch(struct buf *out, const struct wire_envelope *env,
                                           size_t n, uint64_t cursor, bool more);
SP_WARN_UNUSED sp_status wire_decode_fetch(struct wire_fetch *out, struct wire_diag *diag,
                                           const uint8_t *p, size_t len);
void wire_fetch_free(struct wire_fetch *f);

struct wire_ack {
    size_t n; /* 1 .. SP_HARD_MAX_ACK_IDS */
    uint8_t (*ids)[SP_MESSAGE_ID_LEN]; /* owned; freed by wire_ack_free() */
};
SP_WARN_UNUSED sp_status wire_decode_ack(struct wire_ack *out, struct wire_diag *diag,
                                         const uint8_t *p, size_t len);
SP_WARN_UNUSED sp_status wire_encode_ack(struct buf *out, const uint8_t (*ids)[SP_MESSAGE_ID_LEN],
                                         size_t n);
void wire_ack_free(struct wire_ack *a);

SP_WARN_UNUSED sp_status wire_encode_ack_response(struct buf *out, uint32_t deleted);
SP_WARN_UNUSED sp_status wire_decode_ack_response(uint32_t *deleted, const uint8_t *p, size_t len);

/* ---- Limits */
SP_WARN_UNUSED sp_status wire_encode_limits(struct buf *out, const struct sp_limits *in);
SP_WARN_UNUSED sp_status wire_decode_limits(struct sp_limits *out, const uint8_t *p, size_t len);

/* ---- Sealed envelope framing (the relay checks this much without keys):
 * content[0] == SP_SEAL_VERSION (else SP_ERR_UNSUPPORTED_VERSION) and
 * len - SP_SEAL_OVERHEAD is a power of two in [SP_SEAL_MIN_BUCKET,
 * SP_SEAL_MAX_BUCKET] (else SP_ERR_INVALID_FIELD). */
SP_WARN_UNUSED sp_status wire_check_sealed(const uint8_t *content, size_t len);

/* ---- SealedContent (inside the AEAD; SDK only) */
struct wire_sealed_content {
    uint8_t sender[SP_ADDRESS_LEN];
    uint32_t sender_device;
    uint32_t type; /* 2 = SignalMessage, 3 = PreKeySignalMessage */
    uint8_t *ciphertext; /* owned when decoded; borrowed (const) when encoding */
    size_t ciphertext_len; /* 1 .. SP_SEAL_MAX_BUCKET */
};
SP_WARN_UNUSED sp_status wire_encode_sealed_content(struct buf *out,
                                                    const struct wire_sealed_content *in);
SP_WARN_UNUSED sp_status wire_decode_sealed_content(struct wire_sealed_content *out,
                                                    struct wire_diag *diag, const uint8_t *p,
                                                    size_t len);
void wire_sealed_content_free(struct wire_sealed_content *c);

#endif
