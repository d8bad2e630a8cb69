/*
 * session.h: the SDK's Signal engine: keys, sessions, the local half of send
 * (ratchet step + seal + outbox row in one transaction) and of receive
 * (unseal + authenticate + decrypt + inbox row in one savepoint).
 *
 * Owns a struct signal_ctx and a libsignal store context whose stores are the
 * keystore's (borrowed; it must outlive the session). This file and
 * keystore.c / signal_ctx.c are the only SDK files that include libsignal.
 * No network here: bundles come in as validated struct wire_bundle, sealed
 * envelopes go out through the keystore's outbox.
 *
 * Addresses given to libsignal: name = the 32-char address text (a
 * NUL-terminated local array alive for the whole builder/cipher lifetime),
 * device 1. A bundle is only used if its identity key hashes to the address
 * it was fetched for; a prekey message only if the identity key inside it
 * hashes to the sender address claimed in the sealed envelope.
 *
 * Threads: one thread at a time (the SDK handle mutex).
 */
#ifndef SEALPOST_CLIENT_SESSION_H
#define SEALPOST_CLIENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/keystore.h"
#include "common/limits.h"
#include "common/status.h"
#include "common/wire.h"

struct session;

/* Settings keys (keystore settings table). */
#define SS_NEXT_PREKEY_ID  "next_prekey_id"
#define SS_NEXT_SPK_ID     "next_signed_prekey_id"
#define SS_CURRENT_SPK_ID  "signed_prekey_id"
#define SS_SPK_ROTATED_AT  "signed_prekey_rotated_at"

/* *out owned by the caller (session_free). ks borrowed. Loads the identity if
 * one exists. */
SP_WARN_UNUSED sp_status session_new(struct session **out, struct keystore *ks);
void session_free(struct session *s);

/* Create identity + registration id (extended range) once; OK if present. */
SP_WARN_UNUSED sp_status session_identity_ensure(struct session *s);
bool session_has_identity(const struct session *s);
/* Own identity (SP_ERR_USAGE without one). */
SP_WARN_UNUSED sp_status session_my_address(const struct session *s,
                                            char text[static SP_ADDRESS_TEXT_LEN + 1],
                                            uint8_t raw[static SP_ADDRESS_LEN]);
SP_WARN_UNUSED sp_status session_my_identity(const struct session *s,
                                             uint8_t pub[static SP_PUBKEY_LEN],
                                             uint32_t *registration_id);
/* XEdDSA signature by the identity key (the private key is loaded, used and
 * wiped). */
SP_WARN_UNUSED sp_status session_sign(struct session *s, uint8_t sig[static SP_SIGNATURE_LEN],
                                      const uint8_t *msg, size_t len);

/* Generate and store `count` (<= 100) one-time prekeys from the persistent
 * id counter (random start in 1..0xFFFF00, wraps within 1..0xFFFFFE); their
 * public halves go to out[0..count). Own transaction. */
SP_WARN_UNUSED sp_status session_prekeys_generate(struct session *s, size_t count,
                                                  struct wire_prekey *out);
/* Generate, store and make current a new signed prekey; older ones are
 * marked retired (kept for the grace period). Own transaction. */
SP_WARN_UNUSED sp_status session_signed_prekey_rotate(struct session *s,
                                                      struct wire_signed_prekey *out);
/* The current signed prekey (SP_ERR_NOT_FOUND if none yet). */
SP_WARN_UNUSED sp_status session_signed_prekey_current(struct session *s,
                                                       struct wire_signed_prekey *out,
                                                       uint64_t *created);

/* A bundle for this agent built from the local keystore (what the relay would
 * serve): current signed prekey and, if with_prekey, the lowest-id one-time
 * prekey (not removed). For tests and diagnostics. */
SP_WARN_UNUSED sp_status session_local_bundle(struct session *s, bool with_prekey,
                                              struct wire_bundle *out);

/* Whether a session with `peer` (address text) exists. */
SP_WARN_UNUSED sp_status session_exists(struct session *s, const char *peer, bool *exists);

/* The local half of sending, in ONE transaction: if `bundle` is non-NULL,
 * verify it belongs to `peer` (else SP_ERR_IDENTITY_MISMATCH before any state
 * change) and build the session; encrypt (ratchet step); seal to the peer's
 * identity key; insert the outbox row with `message_id`; if pending_id > 0,
 * delete that pending row; COMMIT. On any failure everything rolls back
 * (the ratchet does not advance). Without a bundle and without a session:
 * SP_ERR_NO_SESSION. */
SP_WARN_UNUSED sp_status session_send_local(struct session *s, const char *peer,
                                            const struct wire_bundle *bundle,
                                            const uint8_t *msg, size_t len,
                                            const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                            int64_t pending_id);

enum session_recv_result {
    SESSION_RECV_STORED = 0,    /* new message in the inbox */
    SESSION_RECV_DUPLICATE = 1, /* id seen before, or libsignal says duplicate */
    SESSION_RECV_DROPPED = 2,   /* unseal/authenticate/decrypt failed */
};

/* Process one fetched envelope inside the caller's transaction
 * (keystore_begin ... keystore_commit), with its own savepoint: a dropped
 * envelope leaves no trace but its `seen` row. Returns SP_OK with *result
 * for every peer-caused outcome; another status (SP_ERR_IO, SP_ERR_NOMEM)
 * means local trouble: the caller must roll back the page and ack nothing. */
SP_WARN_UNUSED sp_status session_receive(struct session *s,
                                         const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                         const uint8_t *content, size_t len,
                                         enum session_recv_result *result);

#endif
