/*
 * keystore.h: the SDK's durable state, one SQLite file per agent.
 *
 * A struct keystore owns the state directory lock (an exclusive flock on
 * state_dir/lock, so a second opener, in this process or another, fails with
 * SP_ERR_IO), and the single SQLite connection to state_dir/state.db
 * (created 0600 before SQLite touches it; WAL, synchronous=FULL,
 * secure_delete=ON). Schema migrations (client/migrations/) are applied at
 * open time.
 *
 * It implements the five libsignal store interfaces on that connection
 * (keystore_install_stores) following every contract of LIBSIGNAL.md
 * section 4: load_session 1/0/<0, load_pre_key and load_signed_pre_key
 * SG_SUCCESS or SG_ERR_INVALID_KEY_ID, write callbacks return exactly 0,
 * borrowed inputs copied, outputs freshly allocated. Trust: addresses are
 * self-certifying, so a peer identity is trusted iff its key hashes to the
 * address name and equals the stored key (or none is stored yet).
 *
 * All other tables (settings, inbox, seen, outbox, pending) are reached only
 * through the functions below: no other module writes SQL.
 *
 * Transactions: keystore_begin() starts BEGIN IMMEDIATE; the libsignal
 * callbacks and the helpers below then run inside it. keystore_savepoint /
 * _release / _rollback_to nest one level ("env") for per-envelope work.
 *
 * Threads: none of its own. One thread at a time (the SDK handle mutex);
 * libsignal calls the store callbacks under its context lock on the same
 * thread.
 */
#ifndef SEALPOST_CLIENT_KEYSTORE_H
#define SEALPOST_CLIENT_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal/signal_protocol.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/status.h"

struct keystore;
struct sealpost_message;

#define KS_STATE_FILE "state.db"
#define KS_LOCK_FILE  "lock"

/* Create (0700) / lock / open state_dir. `clock` is borrowed and must outlive
 * the keystore (NULL: the system clock). *out owned by the caller
 * (keystore_close). SP_ERR_IO if the directory cannot be created or locked
 * or the database is unusable or newer than this library; SP_ERR_NOMEM. */
SP_WARN_UNUSED sp_status keystore_open(struct keystore **out, const char *state_dir,
                                       const struct sp_clock *clock);
/* Close the database, release the lock. NULL-safe. */
void keystore_close(struct keystore *ks);

uint64_t keystore_now(const struct keystore *ks);
/* Highest applied schema version (for tests and diagnostics). */
SP_WARN_UNUSED sp_status keystore_schema_version(struct keystore *ks, int *version);

/* Install the five store interfaces (user_data = ks) into `store`. */
SP_WARN_UNUSED sp_status keystore_install_stores(struct keystore *ks,
                                                 signal_protocol_store_context *store);

/* The five store tables with user_data = ks (what install_stores passes to
 * libsignal); exposed so tests can check each callback's contract. */
void keystore_fill_stores(struct keystore *ks, signal_protocol_session_store *sess,
                          signal_protocol_pre_key_store *pk,
                          signal_protocol_signed_pre_key_store *spk,
                          signal_protocol_identity_key_store *id,
                          signal_protocol_sender_key_store *sk);

/* ---- transactions (SP_ERR_IO on SQLite failure) */
SP_WARN_UNUSED sp_status keystore_begin(struct keystore *ks);
SP_WARN_UNUSED sp_status keystore_commit(struct keystore *ks);
void keystore_rollback(struct keystore *ks); /* no-op outside a transaction */
SP_WARN_UNUSED sp_status keystore_savepoint(struct keystore *ks);
SP_WARN_UNUSED sp_status keystore_release(struct keystore *ks);
void keystore_rollback_to(struct keystore *ks); /* rolls back and releases "env" */

/* ---- local identity */
/* SP_ERR_NOT_FOUND if none yet. priv is a secret: the caller wipes it. */
SP_WARN_UNUSED sp_status keystore_identity_get(struct keystore *ks,
                                               uint8_t pub[static SP_PUBKEY_LEN],
                                               uint8_t priv[static 32], uint32_t *registration_id);
/* Fails with SP_ERR_CONFLICT if an identity already exists. */
SP_WARN_UNUSED sp_status keystore_identity_put(struct keystore *ks,
                                               const uint8_t pub[static SP_PUBKEY_LEN],
                                               const uint8_t priv[static 32],
                                               uint32_t registration_id);

/* ---- settings (text values) */
/* *out malloc'd (free()); SP_ERR_NOT_FOUND if unset. */
SP_WARN_UNUSED sp_status keystore_setting_get(struct keystore *ks, const char *key, char **out);
SP_WARN_UNUSED sp_status keystore_setting_set(struct keystore *ks, const char *key,
                                              const char *value);
SP_WARN_UNUSED sp_status keystore_setting_del(struct keystore *ks, const char *key);
/* *out = stored value, or `dflt` when unset or not a number. */
SP_WARN_UNUSED sp_status keystore_setting_get_u64(struct keystore *ks, const char *key,
                                                  uint64_t dflt, uint64_t *out);
SP_WARN_UNUSED sp_status keystore_setting_set_u64(struct keystore *ks, const char *key,
                                                  uint64_t value);

/* ---- peers, sessions, keys */
/* Stored identity key of a peer address (device 1). SP_ERR_NOT_FOUND if none. */
SP_WARN_UNUSED sp_status keystore_peer_identity(struct keystore *ks, const char *name,
                                                uint8_t key[static SP_PUBKEY_LEN]);
SP_WARN_UNUSED sp_status keystore_session_count(struct keystore *ks, size_t *n);
SP_WARN_UNUSED sp_status keystore_prekey_count(struct keystore *ks, size_t *n);
/* Lowest one-time prekey id held locally; SP_ERR_NOT_FOUND if none. */
SP_WARN_UNUSED sp_status keystore_prekey_first_id(struct keystore *ks, uint32_t *id);
/* Mark every signed prekey except `current_id` retired (at now) if not yet. */
SP_WARN_UNUSED sp_status keystore_spk_retire_others(struct keystore *ks, uint32_t current_id);
/* Delete signed prekeys retired before `before` (unix seconds); *n deleted. */
SP_WARN_UNUSED sp_status keystore_spk_prune(struct keystore *ks, uint64_t before, size_t *n);
/* created time of a signed prekey; SP_ERR_NOT_FOUND if absent. */
SP_WARN_UNUSED sp_status keystore_spk_created(struct keystore *ks, uint32_t id, uint64_t *created);

/* ---- inbox / seen */
/* SP_ERR_DUPLICATE if message_id is already in the inbox. */
SP_WARN_UNUSED sp_status keystore_inbox_insert(struct keystore *ks,
                                               const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                               const char *sender, const uint8_t *body,
                                               size_t len);
/* Up to `max` messages with local id > after_id, oldest first. *out is a
 * malloc'd array of *n malloc'd messages (sealpost_messages_free). */
SP_WARN_UNUSED sp_status keystore_inbox_list(struct keystore *ks, int64_t after_id, size_t max,
                                             struct sealpost_message ***out, size_t *n);
SP_WARN_UNUSED sp_status keystore_inbox_done(struct keystore *ks, int64_t id);
SP_WARN_UNUSED sp_status keystore_inbox_count(struct keystore *ks, size_t *n);
/* *seen = true if the id was processed before (in `seen` or in the inbox). */
SP_WARN_UNUSED sp_status keystore_seen_has(struct keystore *ks,
                                           const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                           bool *seen);
SP_WARN_UNUSED sp_status keystore_seen_add(struct keystore *ks,
                                           const uint8_t message_id[static SP_MESSAGE_ID_LEN]);
/* Forget ids seen more than max_age_s ago. */
SP_WARN_UNUSED sp_status keystore_seen_prune(struct keystore *ks, uint64_t max_age_s);

/* ---- outbox */
struct ks_outbox_item {
    int64_t id;
    uint8_t message_id[SP_MESSAGE_ID_LEN];
    uint8_t recipient[SP_ADDRESS_LEN]; /* raw address */
    uint8_t *content;                  /* sealed envelope, owned */
    size_t content_len;
};
SP_WARN_UNUSED sp_status keystore_outbox_insert(struct keystore *ks,
                                                const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                                const char *recipient, const uint8_t *content,
                                                size_t len);
/* Oldest `max` rows with id > after_id. *items malloc'd; free with
 * keystore_outbox_free(items, n). */
SP_WARN_UNUSED sp_status keystore_outbox_load(struct keystore *ks, int64_t after_id, size_t max,
                                              struct ks_outbox_item **items, size_t *n);
void keystore_outbox_free(struct ks_outbox_item *items, size_t n);
/* Delete exactly the outbox rows whose ids are listed (unknown ids: no-op). */
SP_WARN_UNUSED sp_status keystore_outbox_delete(struct keystore *ks, const int64_t *ids, size_t n);
SP_WARN_UNUSED sp_status keystore_outbox_count(struct keystore *ks, size_t *n);

/* ---- pending (plaintext waiting for a session) */
struct ks_pending_item {
    int64_t id;
    uint8_t message_id[SP_MESSAGE_ID_LEN];
    char recipient[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t *body; /* plaintext, owned: keystore_pending_free wipes it */
    size_t body_len;
};
SP_WARN_UNUSED sp_status keystore_pending_insert(struct keystore *ks,
                                                 const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                                 const char *recipient, const uint8_t *body,
                                                 size_t len);
/* The oldest pending row with id > after_id; SP_ERR_NOT_FOUND if none. */
SP_WARN_UNUSED sp_status keystore_pending_next(struct keystore *ks, int64_t after_id,
                                               struct ks_pending_item *out);
void keystore_pending_free(struct ks_pending_item *it);
SP_WARN_UNUSED sp_status keystore_pending_delete(struct keystore *ks, int64_t id);
SP_WARN_UNUSED sp_status keystore_pending_count(struct keystore *ks, size_t *n);

/* ---- test hooks (never set in production) */
/* When non-zero, the next keystore_outbox_insert fails with SP_ERR_IO. */
void keystore_test_fail_outbox_insert(struct keystore *ks, int fail);

#endif
