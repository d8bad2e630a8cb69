/*
 * signal_ctx.h: a ready-to-use libsignal context, plus the identity-key
 * operations sealpost needs outside the ratchet (generate, sign, verify).
 *
 * A struct signal_ctx owns one signal_context with the OpenSSL crypto
 * provider (client/crypto_provider.h) installed, a RECURSIVE mutex as the
 * context lock (libsignal locks twice on decrypt), and a log function that
 * forwards only ERROR and WARNING messages to common/log.h, truncated at the
 * first ':' so names, addresses and counters that libsignal formats into its
 * messages never reach the log.
 *
 * Threads: the context itself follows libsignal's rules (one lock per
 * context; refcounted objects are not thread-safe). The identity helpers
 * below take no lock: they touch no shared state of the context other than
 * the thread-safe provider, so they may run concurrently on one signal_ctx.
 * Code that calls libsignal store wrappers outside encrypt/decrypt should
 * bracket them with signal_ctx_lock/unlock (LIBSIGNAL.md section 10).
 *
 * Key formats: public identity keys are 33 bytes (0x05 || X25519 public),
 * private keys 32 bytes (libsignal serialisation); signatures 64 bytes.
 */
#ifndef SEALPOST_CLIENT_SIGNAL_CTX_H
#define SEALPOST_CLIENT_SIGNAL_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <signal/signal_protocol.h>

#include "common/limits.h"
#include "common/status.h"

#define SP_PRIVKEY_LEN 32

struct signal_ctx;

/* Create a context. *out is owned by the caller (signal_ctx_free); NULL on
 * failure. SP_ERR_NOMEM or SP_ERR_INTERNAL. */
SP_WARN_UNUSED sp_status signal_ctx_new(struct signal_ctx **out);

/* Destroy the context. Every libsignal object made with it (stores, ciphers,
 * builders, keys) must be gone first. NULL-safe. */
void signal_ctx_free(struct signal_ctx *c);

/* The libsignal context, borrowed: valid until signal_ctx_free. */
signal_context *signal_ctx_get(struct signal_ctx *c);

/* The context lock (recursive); the same one libsignal takes. */
void signal_ctx_lock(struct signal_ctx *c);
void signal_ctx_unlock(struct signal_ctx *c);

/* Generate a fresh identity key pair. The caller owns both outputs and must
 * sp_wipe `priv` when done. On failure both are zeroed. */
SP_WARN_UNUSED sp_status signal_ctx_identity_generate(struct signal_ctx *c,
                                                      uint8_t pub[static SP_PUBKEY_LEN],
                                                      uint8_t priv[static SP_PRIVKEY_LEN]);

/* XEdDSA signature (libsignal curve_calculate_signature, randomised) over
 * msg by the identity private key. `sig` is caller-owned. SP_ERR_INVALID_FIELD
 * if priv does not decode; SP_ERR_INTERNAL / SP_ERR_NOMEM otherwise. */
SP_WARN_UNUSED sp_status signal_ctx_sign(struct signal_ctx *c,
                                         uint8_t sig[static SP_SIGNATURE_LEN],
                                         const uint8_t priv[static SP_PRIVKEY_LEN],
                                         const uint8_t *msg, size_t len);

/* SP_OK only when curve_verify_signature(pub, msg, sig) == 1. A signature of
 * any length other than 64 (libsignal answers -22), a tampered message or
 * signature -> SP_ERR_BAD_SIGNATURE. A public key that does not decode
 * (wrong type byte) -> SP_ERR_INVALID_FIELD. Nothing is allocated for the
 * caller. */
SP_WARN_UNUSED sp_status signal_ctx_verify(struct signal_ctx *c,
                                           const uint8_t pub[static SP_PUBKEY_LEN],
                                           const uint8_t *msg, size_t len, const uint8_t *sig,
                                           size_t sig_len);

/* Sanitise a libsignal log message into out (NUL-terminated, at most
 * out_len - 1 bytes): cut at the first ':' or non-printable byte. Exposed for
 * the tests. */
void signal_ctx_sanitize_log(char *out, size_t out_len, const char *msg, size_t msg_len);

#endif
