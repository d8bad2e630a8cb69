/*
 * auth.h: who is calling. Signed proofs (register, token) and bearer tokens.
 *
 * Proofs: an XEdDSA signature by the identity key over DOMAIN || 0x00 ||
 * payload, checked with libsignal's curve_verify_signature() == 1. The
 * timestamp must lie within +-window of the relay clock. Replay protection is
 * keyed on SHA-256(DOMAIN || 0x00 || address || nonce), never on signature
 * bytes: libsignal signatures are malleable (an S+L variant of a valid
 * signature verifies too), so a signature is not an identifier.
 *
 * Tokens: 32 random bytes given to the client once; only SHA-256(token) is
 * stored. Each request costs a hash plus a lookup (an in-memory cache in
 * front of the store), never a signature verification.
 *
 * Thread rules: everything here is thread-safe; struct auth holds only the
 * token cache, guarded by its own mutex. Secrets (tokens) are wiped from the
 * stack before return.
 */
#ifndef SEALPOST_SERVER_API_AUTH_H
#define SEALPOST_SERVER_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/status.h"

struct auth;
struct store;

/* ---- stateless checks */

/* SP_OK iff curve_verify_signature(key, msg, sig) == 1. Any other outcome
 * (0, an error code, a key without the 0x05 type byte, sig_len != 64) is
 * SP_ERR_BAD_SIGNATURE. Non-canonical signatures (S >= L, e.g. the S+L
 * malleation of a valid one, which libsignal itself accepts) are rejected
 * too. Replay protection still never relies on signature bytes. */
SP_WARN_UNUSED sp_status auth_verify_signature(const uint8_t key[static SP_PUBKEY_LEN],
                                               const uint8_t *msg, size_t msg_len,
                                               const uint8_t *sig, size_t sig_len);
/* Verify a proof: signature over sp_proof_message(domain, payload). */
SP_WARN_UNUSED sp_status auth_verify_proof(const uint8_t key[static SP_PUBKEY_LEN],
                                           const char *domain, const uint8_t *payload,
                                           size_t payload_len,
                                           const uint8_t sig[static SP_SIGNATURE_LEN]);
/* SP_ERR_STALE_PROOF unless |timestamp - now| <= window_s. */
SP_WARN_UNUSED sp_status auth_check_window(uint64_t timestamp, uint64_t now, uint32_t window_s);
/* out = SHA-256(domain || 0x00 || address || nonce). */
SP_WARN_UNUSED sp_status auth_replay_key(uint8_t out[static 32], const char *domain,
                                         const uint8_t address[static SP_ADDRESS_LEN],
                                         const uint8_t nonce[static SP_NONCE_LEN]);
/* A fresh token and its SHA-256. The caller wipes `token` after use. */
SP_WARN_UNUSED sp_status auth_token_new(uint8_t token[static SP_TOKEN_LEN],
                                        uint8_t hash[static 32]);
/* Parse "Bearer " (scheme case-insensitive) + exactly 43 base64url
 * characters (strict: no padding, zero trailing bits) into SHA-256(token).
 * NULL or anything else: SP_ERR_UNAUTHENTICATED. */
SP_WARN_UNUSED sp_status auth_bearer_hash(uint8_t hash[static 32], const char *header);

/* ---- token lookup with a bounded cache */

/* cache_slots: entries of the hash -> (account, expiry) cache; 0 disables it. */
SP_WARN_UNUSED sp_status auth_create(struct auth **out, size_t cache_slots);
void auth_destroy(struct auth *a); /* NULL-safe */
/* Empty the token cache (accounts were deleted). Thread-safe. */
void auth_cache_clear(struct auth *a);

/* Authenticate a bearer header at time `now`: *account on success;
 * SP_ERR_UNAUTHENTICATED for a missing, malformed, unknown or expired token;
 * SP_ERR_IO / SP_ERR_UNAVAILABLE if the store fails. *why (may be NULL) tells
 * a failure's reason: 0 = malformed or missing header, 1 = unknown/expired. */
SP_WARN_UNUSED sp_status auth_bearer(struct auth *a, struct store *s, const char *header,
                                     uint64_t now, int64_t *account, int *why);

#endif
