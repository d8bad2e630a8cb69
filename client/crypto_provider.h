/*
 * crypto_provider.h: the OpenSSL 3 crypto provider that libsignal-protocol-c
 * calls for randomness, HMAC-SHA256, SHA-512 and AES-CBC/CTR.
 *
 * A struct crypto_provider owns the OpenSSL algorithm objects (fetched once
 * at crypto_provider_new and never modified afterwards) and a prototype
 * HMAC-SHA256 MAC context that every HMAC init duplicates. Callbacks create
 * their own per-call OpenSSL contexts, so one provider may serve any number
 * of signal_contexts on any number of threads at once.
 *
 * Lifetime: the provider must outlive every signal_context it was installed
 * into (libsignal keeps a copy of the callback table whose user_data points
 * at the provider). client/signal_ctx.c does this bookkeeping; most code
 * should use that module instead of this one directly.
 *
 * Callback contract (docs: ../shared/LIBSIGNAL.md section 3.2): every
 * callback returns 0 on success or a negative libsignal code (SG_ERR_NOMEM,
 * SG_ERR_INVAL, SG_ERR_UNKNOWN); output signal_buffers are allocated with
 * the exact size and owned by the caller (libsignal frees them).
 */
#ifndef SEALPOST_CLIENT_CRYPTO_PROVIDER_H
#define SEALPOST_CLIENT_CRYPTO_PROVIDER_H

#include <signal/signal_protocol.h>

#include "common/status.h"

struct crypto_provider;

/* Fetch the algorithms and build the HMAC prototype. On success *out is a new
 * provider owned by the caller (free with crypto_provider_free); on failure
 * *out is NULL and the status is SP_ERR_NOMEM or SP_ERR_INTERNAL. */
SP_WARN_UNUSED sp_status crypto_provider_new(struct crypto_provider **out);

/* Release everything. NULL-safe. No signal_context using it may remain. */
void crypto_provider_free(struct crypto_provider *p);

/* Fill every callback of *out and set out->user_data = p. The table refers to
 * p without owning it; pass it to signal_context_set_crypto_provider (which
 * copies the table). */
void crypto_provider_fill(struct crypto_provider *p, signal_crypto_provider *out);

#endif
