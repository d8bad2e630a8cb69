/*
 * relay.h: typed calls of the relay API (docs/PROTOCOL.md) on top of
 * transport.h and common/wire.h.
 *
 * Owns the bearer token: minted on demand with a signed proof
 * (SignedProof{TokenPayload{address, timestamp, nonce}}, XEdDSA by the
 * identity key over "sealpost/v1/token" || 0x00 || payload), kept in memory
 * only (wiped on free) with its expiry, re-minted a minute before it
 * expires and once more when the relay answers UNAUTHENTICATED.
 *
 * Borrowed: the transport, the session (identity, signing) and the clock,
 * which must outlive the relay. Threads: one at a time (SDK handle mutex).
 */
#ifndef SEALPOST_CLIENT_RELAY_H
#define SEALPOST_CLIENT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/session.h"
#include "client/transport.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/wire.h"

struct relay;

SP_WARN_UNUSED sp_status relay_new(struct relay **out, struct transport *t, struct session *s,
                                   const struct sp_clock *clock);
void relay_free(struct relay *r);

/* Retry-After of the last failed call (0 if none). */
uint32_t relay_retry_after(const struct relay *r);
/* Error.index of the last failed call: which item of a batch the relay
 * refused (e.g. the envelope whose recipient's mailbox is full). false when
 * the last call succeeded or its Error carried no index. */
bool relay_error_index(const struct relay *r, uint32_t *index);

/* POST /v1/register with identity, registration id, the signed prekey and
 * n (<= 100) one-time prekeys. Checks the relay derived our own address. */
SP_WARN_UNUSED sp_status relay_register(struct relay *r, const struct wire_signed_prekey *spk,
                                        const struct wire_prekey *prekeys, size_t n);
SP_WARN_UNUSED sp_status relay_prekeys_upload(struct relay *r, const struct wire_prekey *prekeys,
                                              size_t n, uint32_t *count);
SP_WARN_UNUSED sp_status relay_prekey_count(struct relay *r, uint32_t *count);
SP_WARN_UNUSED sp_status relay_signed_prekey(struct relay *r, const struct wire_signed_prekey *spk);
/* GET /v1/bundle/{peer}. The caller verifies the identity key (session.c). */
SP_WARN_UNUSED sp_status relay_bundle(struct relay *r, const char *peer, struct wire_bundle *out);
SP_WARN_UNUSED sp_status relay_send(struct relay *r, const struct wire_out_envelope *env, size_t n,
                                    struct wire_send_response *out);
/* *out owned by the caller (wire_fetch_free). */
SP_WARN_UNUSED sp_status relay_fetch(struct relay *r, uint32_t limit, uint64_t after,
                                     uint32_t wait_s, struct wire_fetch *out);
SP_WARN_UNUSED sp_status relay_ack(struct relay *r, const uint8_t (*ids)[SP_MESSAGE_ID_LEN],
                                   size_t n, uint32_t *deleted);
SP_WARN_UNUSED sp_status relay_limits(struct relay *r, struct sp_limits *out);

#endif
