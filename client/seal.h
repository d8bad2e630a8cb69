/*
 * seal.h: the sealed envelope, the outer layer that hides who sent a Signal
 * message from the relay (docs/PROTOCOL.md, "Sealed envelope").
 *
 *   content = 0x01 || E (32) || C || T (16)
 *   shared  = X25519(e, R)                       (all-zero result rejected)
 *   okm     = HKDF-SHA256(shared, salt = "", info = "sealpost/v1/seal" || 0x00 || E || R33, 44)
 *   key, nonce = okm[0..32], okm[32..44]         (AES-256-GCM, AD = 0x01 || E || R33)
 *   P       = be32(len(inner)) || inner || zeros up to bucket (power of two, 256..65536)
 *
 * A fresh ephemeral key per envelope makes every (key, nonce) pair unique,
 * so the GCM nonce never repeats under one key. Sender authentication is NOT
 * this layer's job: the Signal message inside binds the sender's identity.
 *
 * Key formats: identity public keys are libsignal's 33-byte form
 * (0x05 || X25519 public), private keys the 32-byte X25519 scalar.
 *
 * Statuses of unseal_envelope (the receiver's decision table):
 *   SP_ERR_UNSUPPORTED_VERSION  first byte is not 1 (never downgraded)
 *   SP_ERR_MALFORMED            empty, or length is not 49 + a valid bucket;
 *                               after authentication: inner length > bucket-4,
 *                               non-zero padding, or inner does not decode
 *                               (wire_decode_sealed_content's own status is
 *                               passed through for an inner that parses but
 *                               is invalid: SP_ERR_INVALID_FIELD for a bad
 *                               field, SP_ERR_UNSUPPORTED_VERSION for an
 *                               inner version other than 1, SP_ERR_TOO_LARGE
 *                               past its size ceiling)
 *   SP_ERR_DECRYPT              ephemeral key gives an all-zero / low-order
 *                               shared secret, or the GCM tag does not verify
 *                               (wrong recipient, any tampered byte)
 * Checks after the tag only ever see bytes the sender authenticated, so they
 * give an attacker without the key no oracle.
 *
 * Memory: shared secrets, okm, keys and the padded plaintext are wiped on
 * every path. All functions are thread-safe (no shared state).
 */
#ifndef SEALPOST_CLIENT_SEAL_H
#define SEALPOST_CLIENT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/status.h"
#include "common/wire.h"

#define SEAL_KEY_LEN   32
#define SEAL_NONCE_LEN 12
#define SEAL_INFO_PREFIX "sealpost/v1/seal"
/* The largest encoded SealedContent that fits the largest bucket. */
#define SEAL_MAX_INNER (SP_SEAL_MAX_BUCKET - 4u)

/* Seal `inner` to the recipient and APPEND the envelope to `out` (the caller
 * owns out). inner->type must be 2 or 3, inner->sender_device SP_DEVICE_ID
 * and the ciphertext non-empty (else SP_ERR_USAGE); an encoded inner larger
 * than SEAL_MAX_INNER gives SP_ERR_TOO_LARGE. A recipient key without the
 * 0x05 type byte, or one that yields an all-zero shared secret, gives
 * SP_ERR_INVALID_FIELD. On failure out->len is unchanged. */
SP_WARN_UNUSED sp_status seal_envelope(struct buf *out,
                                       const uint8_t recipient_identity[static SP_PUBKEY_LEN],
                                       const struct wire_sealed_content *inner);

/* Open an envelope addressed to (my_identity_pub, my_identity_priv). On
 * success *out is filled and owned by the caller (wire_sealed_content_free,
 * which wipes); on failure *out is zeroed and holds nothing. Statuses: see
 * the table above; SP_ERR_USAGE if my_identity_pub lacks the 0x05 byte. */
SP_WARN_UNUSED sp_status unseal_envelope(struct wire_sealed_content *out,
                                         const uint8_t my_identity_pub[static SP_PUBKEY_LEN],
                                         const uint8_t my_identity_priv[static 32],
                                         const uint8_t *content, size_t len);

/* The receiver's own identity, prepared once for unsealing many envelopes:
 * the X25519 private key is imported into OpenSSL a single time (an import
 * costs as much as the key agreement itself). Immutable after creation, so
 * it may be shared by threads. seal_identity_free() is NULL-safe; OpenSSL
 * clears the private key when it is freed. The caller wipes its own copy of
 * `priv`. SP_ERR_USAGE if pub lacks the 0x05 byte. */
struct seal_identity;
SP_WARN_UNUSED sp_status seal_identity_new(struct seal_identity **out,
                                           const uint8_t pub[static SP_PUBKEY_LEN],
                                           const uint8_t priv[static 32]);
void seal_identity_free(struct seal_identity *id);
/* unseal_envelope() with a prepared identity: same statuses and output. */
SP_WARN_UNUSED sp_status unseal_envelope_with(struct wire_sealed_content *out,
                                              const struct seal_identity *id,
                                              const uint8_t *content, size_t len);

/* Envelope size for an encoded inner of inner_len bytes: 49 + bucket, or 0
 * if it does not fit the largest bucket. */
size_t seal_envelope_size(size_t inner_len);

/* ---- test hooks (not for production callers) */

/* The (key, nonce) a receiver derives for ephemeral public key eph_pub.
 * Outputs are secret and caller-owned: wipe them. SP_ERR_DECRYPT if the
 * shared secret would be all zero. */
SP_WARN_UNUSED sp_status seal_derive_keys(uint8_t key[static SEAL_KEY_LEN],
                                          uint8_t nonce[static SEAL_NONCE_LEN],
                                          const uint8_t eph_pub[static SP_SEAL_EPHEMERAL_LEN],
                                          const uint8_t recipient_pub[static SP_PUBKEY_LEN],
                                          const uint8_t recipient_priv[static 32]);

/* HKDF-SHA256 with an empty salt, as the envelope uses it. */
SP_WARN_UNUSED sp_status seal_hkdf_sha256(uint8_t *okm, size_t okm_len, const uint8_t *ikm,
                                          size_t ikm_len, const uint8_t *info, size_t info_len);

/* Seal an arbitrary padded plaintext P (length must be a valid bucket), so
 * tests can build envelopes a correct sender never would (bad padding, bad
 * inner length). Appends to out. */
SP_WARN_UNUSED sp_status seal_encrypt_padded(struct buf *out,
                                             const uint8_t recipient_identity[static SP_PUBKEY_LEN],
                                             const uint8_t *padded, size_t padded_len);

#endif
