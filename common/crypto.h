/*
 * crypto.h: the few primitives both relay and SDK need outside libsignal:
 * SHA-256, a CSPRNG and the domain-separated byte strings that identity keys
 * sign. Backed by OpenSSL 3; thread-safe.
 */
#ifndef SEALPOST_COMMON_CRYPTO_H
#define SEALPOST_COMMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "status.h"

#define SP_SHA256_LEN 32

/* Signing domains (docs/PROTOCOL.md, "Signed proofs"). */
#define SP_DOMAIN_REGISTER "sealpost/v1/register"
#define SP_DOMAIN_TOKEN    "sealpost/v1/token"

/* out = SHA-256(p1 || p2); p2 may be NULL with len2 == 0. */
SP_WARN_UNUSED sp_status sp_sha256(uint8_t out[static SP_SHA256_LEN], const uint8_t *p1,
                                   size_t len1, const uint8_t *p2, size_t len2);

/* Fill out with n bytes from the OS-seeded CSPRNG. */
SP_WARN_UNUSED sp_status sp_random(uint8_t *out, size_t n);

/* The bytes an identity key signs for a proof: DOMAIN || 0x00 || payload.
 * Appends to `out` (the caller owns and frees it). */
SP_WARN_UNUSED sp_status sp_proof_message(struct buf *out, const char *domain,
                                          const uint8_t *payload, size_t len);

#endif
