/*
 * store.h: the relay's storage interface. All SQL lives behind it.
 *
 * Handlers see validated structs (common/wire.h) and these functions; they
 * never see SQL or a backend type, so a PostgreSQL backend can be added by
 * writing another `struct store_ops` (store_backend.h) without touching them.
 * The embedded backend is SQLite (store_sqlite.c).
 *
 * Connections: a `struct store_conn` is used by one thread at a time. Get one
 * from the pool with store_conn_get() and give it back with store_conn_put().
 * Every mutating function must be called inside store_begin()/store_commit()
 * (the writer thread does that, wrapping each job in a savepoint); read-only
 * functions may be called outside a transaction.
 *
 * Atomicity rules every backend must keep:
 *  - store_bundle_take hands out each one-time prekey at most once, oldest
 *    first, in one statement (DELETE ... RETURNING on the oldest row).
 *  - a failing mutating call leaves nothing changed (it fails before writing,
 *    or the caller's savepoint rolls it back).
 *  - mailbox quota counters change in the same transaction as the mail rows.
 *
 * Privacy rules (docs/PRIVACY.md): no sender is stored with mail; stored times
 * are coarsened to the hour (store_hour()); no IP address is ever stored.
 *
 * Errors: SP_ERR_NOT_FOUND, SP_ERR_CONFLICT, SP_ERR_PREKEY_LIMIT,
 * SP_ERR_MAILBOX_FULL, SP_ERR_REPLAY, SP_ERR_UNAUTHENTICATED as documented per
 * function; SP_ERR_IO for database failures; SP_ERR_UNAVAILABLE when the
 * database is busy beyond the busy timeout.
 */
#ifndef SEALPOST_SERVER_STORE_H
#define SEALPOST_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/status.h"
#include "common/wire.h"

struct store;
struct store_conn;

enum store_sync { STORE_SYNC_NORMAL = 1, STORE_SYNC_FULL = 2 };

struct store_options {
    const char *path;       /* database file; created with mode 0600 if missing */
    enum store_sync sync;   /* default STORE_SYNC_FULL: an acknowledged send survives power loss */
    unsigned pool_size;     /* connections in the pool (>= 2) */
    unsigned busy_timeout_ms;
};

/* Round unix seconds down to the hour: the only precision stored times have. */
static inline uint64_t store_hour(uint64_t t)
{
    return t - t % 3600;
}
/* Round up to the next hour boundary (for expiry times). */
static inline uint64_t store_hour_ceil(uint64_t t)
{
    return t % 3600 == 0 ? t : t - t % 3600 + 3600;
}

/* Open (creating if needed) and migrate the database in one transaction.
 * A database whose schema is newer than this binary fails with SP_ERR_IO and
 * a log line naming both versions. On success *out is owned by the caller. */
SP_WARN_UNUSED sp_status store_open(struct store **out, const struct store_options *opt);
/* NULL-safe. All connections must have been returned. */
void store_close(struct store *s);
/* Schema version of the open database and the newest this binary knows. */
int store_schema_version(const struct store *s);
int store_schema_latest(void);

/* Blocks until a pooled connection is free. */
SP_WARN_UNUSED sp_status store_conn_get(struct store *s, struct store_conn **out);
void store_conn_put(struct store *s, struct store_conn *c);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK, and one nesting level of
 * savepoint for per-job isolation inside a group commit. A failed commit has
 * rolled the transaction back; store_rollback() outside a transaction and
 * store_conn_put() of a connection with an open transaction roll back too. */
SP_WARN_UNUSED sp_status store_begin(struct store_conn *c);
SP_WARN_UNUSED sp_status store_commit(struct store_conn *c);
void store_rollback(struct store_conn *c);
SP_WARN_UNUSED sp_status store_savepoint(struct store_conn *c);
SP_WARN_UNUSED sp_status store_release(struct store_conn *c);
void store_rollback_to(struct store_conn *c); /* rolls back and releases the savepoint */

/* ---- accounts */
struct store_account {
    int64_t id;
    uint8_t address[SP_ADDRESS_LEN];
    uint8_t identity_key[SP_PUBKEY_LEN];
    uint32_t registration_id;
    uint32_t device_id;
};

/* Create the account for reg (address derived by the caller) or, if it
 * exists with the same identity key, apply reg's signed prekey and prekeys as
 * store_signed_prekey_set/store_prekeys_add would (idempotent re-register).
 * SP_ERR_CONFLICT if the address exists with another identity key or a key id
 * is reused with different bytes; SP_ERR_PREKEY_LIMIT past max_prekeys. */
SP_WARN_UNUSED sp_status store_account_register(struct store_conn *c, const struct wire_register *reg,
                                                const uint8_t address[static SP_ADDRESS_LEN],
                                                uint64_t now, uint32_t max_prekeys, bool *created,
                                                int64_t *account_id);
/* SP_ERR_NOT_FOUND if no such account. */
SP_WARN_UNUSED sp_status store_account_by_address(struct store_conn *c,
                                                  const uint8_t address[static SP_ADDRESS_LEN],
                                                  struct store_account *out);
SP_WARN_UNUSED sp_status store_account_by_id(struct store_conn *c, int64_t id,
                                             struct store_account *out);
/* Record activity (hour precision) for idle-account expiry. Cheap no-op when
 * the stored hour is already current. */
SP_WARN_UNUSED sp_status store_account_touch(struct store_conn *c, int64_t id, uint64_t now);

/* ---- prekeys */
/* Add one-time prekeys. Same id + same bytes: no-op. Same id + other bytes:
 * SP_ERR_CONFLICT (nothing added). Total over max_total: SP_ERR_PREKEY_LIMIT
 * (nothing added). *count_after (may be NULL) = one-time prekeys now stored. */
SP_WARN_UNUSED sp_status store_prekeys_add(struct store_conn *c, int64_t account,
                                           const struct wire_prekey *pk, size_t n,
                                           uint32_t max_total, uint64_t now,
                                           uint32_t *count_after);
SP_WARN_UNUSED sp_status store_prekeys_count(struct store_conn *c, int64_t account,
                                             uint32_t *count);
/* Make spk the current signed prekey. Same id + same bytes as the current
 * one: no-op. An id used before with other bytes: SP_ERR_CONFLICT. The
 * previous current key is kept as superseded (hour of supersession stored)
 * until the pruner removes it. */
SP_WARN_UNUSED sp_status store_signed_prekey_set(struct store_conn *c, int64_t account,
                                                 const struct wire_signed_prekey *spk,
                                                 uint64_t now);
/* Fill a bundle for `target`, taking (deleting) its oldest one-time prekey in
 * one atomic statement; out->has_prekey = false when none is left.
 * SP_ERR_NOT_FOUND if no such account. */
SP_WARN_UNUSED sp_status store_bundle_take(struct store_conn *c, int64_t target,
                                           struct wire_bundle *out);

/* ---- credentials: only SHA-256 hashes of tokens and proof nonces are stored */
SP_WARN_UNUSED sp_status store_token_put(struct store_conn *c, const uint8_t hash[static 32],
                                         int64_t account, uint64_t expires_at);
/* SP_ERR_UNAUTHENTICATED if unknown or expires_at <= now. */
SP_WARN_UNUSED sp_status store_token_lookup(struct store_conn *c, const uint8_t hash[static 32],
                                            uint64_t now, int64_t *account);
/* SP_ERR_REPLAY if `key` was recorded before (and not yet pruned). */
SP_WARN_UNUSED sp_status store_replay_put(struct store_conn *c, const uint8_t key[static 32],
                                          uint64_t expires_at);

/* ---- mail */
/* Store one envelope for `recipient` (no sender is stored). If (recipient,
 * message_id) exists already: *duplicate = true and nothing changes. Over the
 * mailbox quota (lim->mailbox_max_messages / mailbox_max_bytes):
 * SP_ERR_MAILBOX_FULL and nothing changes. */
SP_WARN_UNUSED sp_status store_mail_put(struct store_conn *c, int64_t recipient,
                                        const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                        const uint8_t *content, size_t len, uint64_t now,
                                        const struct sp_limits *lim, bool *duplicate);

struct store_mail {
    uint64_t seq; /* storage order; the fetch cursor */
    uint8_t message_id[SP_MESSAGE_ID_LEN];
    uint8_t *content; /* points into the page's storage */
    size_t content_len;
    uint64_t received_hour;
};

struct store_mail_page {
    size_t n;
    struct store_mail *items; /* owned */
    uint8_t *storage;         /* owned */
    bool more;                /* more mail after the last item */
};

/* Oldest first, seq > after, at most `limit` items and (after the first item)
 * at most max_bytes of content. The page owns its memory. */
SP_WARN_UNUSED sp_status store_mail_fetch(struct store_conn *c, int64_t account, uint64_t after,
                                          uint32_t limit, size_t max_bytes,
                                          struct store_mail_page *out);
void store_mail_page_free(struct store_mail_page *p); /* NULL-safe, idempotent */
/* Delete the caller's envelopes with these ids; unknown ids are ignored. */
SP_WARN_UNUSED sp_status store_mail_ack(struct store_conn *c, int64_t account,
                                        const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n,
                                        uint32_t *deleted);
/* Number of envelopes waiting for `account` (for long-poll decisions); 0 for
 * an unknown account (GET /v1/ready probes with account 0). */
SP_WARN_UNUSED sp_status store_mail_pending(struct store_conn *c, int64_t account,
                                            uint32_t *count);

/* ---- retention (the pruner thread and the one-shot prune command) */
struct store_retention {
    uint64_t envelope_ttl_s;        /* mail with received_hour + ttl <= now */
    uint64_t signed_prekey_grace_s; /* superseded_hour + grace <= now */
    uint64_t account_idle_s;        /* active_hour + idle <= now; 0 = never */
    uint32_t batch;                 /* at most this many rows of each kind per call (>= 1) */
};

struct store_prune_counts {
    uint32_t mail, tokens, replay, signed_prekeys, accounts; /* rows deleted */
    bool more; /* some kind hit `batch`: call again */
};

/* Delete what the retention policy no longer allows: expired mail, tokens
 * (expires_at <= now) and replay records, superseded signed prekeys past the
 * grace period, idle accounts (with all their keys, tokens and mail).
 * Mutating: call inside store_begin()/store_commit(); bounded by `batch` so
 * one transaction stays short. Quota counters stay exact. */
SP_WARN_UNUSED sp_status store_prune(struct store_conn *c, const struct store_retention *r,
                                     uint64_t now, struct store_prune_counts *out);
/* Outside a transaction: move the write-ahead log into the database and
 * truncate it, so deleted ciphertext does not linger in the log.
 * *complete = false when readers kept part of the log (try again later). */
SP_WARN_UNUSED sp_status store_checkpoint(struct store_conn *c, bool *complete);

/* What the database holds, for the `audit` command and metrics: counts,
 * sizes and ages only, never identities. Hours are 0 when there is no row. */
struct store_audit {
    uint64_t accounts, prekeys, signed_prekeys, superseded_signed_prekeys;
    uint64_t tokens, replay, mail, mail_bytes;
    uint64_t oldest_mail_hour, oldest_active_hour;
};
SP_WARN_UNUSED sp_status store_audit(struct store_conn *c, struct store_audit *out);

/* The details `sealpostd audit` prints: age histograms, envelope sizes and
 * bytes per table. Still counts only. Age buckets, by `now` minus the stored
 * hour: < 1 hour, < 1 day, < 7 days, < 30 days, older. */
#define STORE_AGE_BUCKETS   5
#define STORE_AUDIT_SIZES   24 /* distinct envelope sizes reported (smallest first) */
#define STORE_AUDIT_OBJECTS 32 /* tables and indexes reported */
struct store_audit_object {
    char name[48];   /* table or index name (schema names, never data) */
    uint64_t pages;  /* pages used */
    uint64_t bytes;  /* pages * page size */
    uint64_t payload; /* bytes of row data in them */
};
struct store_audit_detail {
    uint64_t mail_age[STORE_AGE_BUCKETS];    /* envelopes by received_hour */
    uint64_t account_idle[STORE_AGE_BUCKETS]; /* accounts by active_hour */
    size_t n_sizes;
    struct {
        uint64_t bytes, count;
    } sizes[STORE_AUDIT_SIZES];              /* envelopes by stored length */
    bool sizes_truncated;                    /* more distinct sizes than reported */
    uint64_t page_size, page_count, freelist_count;
    bool have_objects;                       /* false: no dbstat in this SQLite */
    size_t n_objects;
    struct store_audit_object objects[STORE_AUDIT_OBJECTS];
};
/* Read-only; may be called outside a transaction. The per-object sizes need
 * the SQLite dbstat table; without it have_objects = false and only the page
 * totals are filled. SP_ERR_USAGE if the backend has no such report. */
SP_WARN_UNUSED sp_status store_audit_detail(struct store_conn *c, uint64_t now,
                                            struct store_audit_detail *out);

#endif
