/*
 * store_backend.h: the storage vtable behind store.h.
 *
 * store.c is backend-neutral: it owns the connection pool (mutex + condvar)
 * and forwards every store.h call through `struct store_ops`. A backend
 * (store_sqlite.c; later PostgreSQL) implements the ops and nothing else; it
 * is the only code that includes its client library's header. Tests can
 * open a store with their own ops (store_open_with) to inject failures.
 *
 * Connections: a backend allocates its own connection struct with
 * `struct store_conn` as its FIRST member and returns a pointer to that
 * member; the pool only touches the base fields. Every op that takes a
 * connection runs on the thread that holds it; backend-global state passed to
 * conn_open/close_backend must be safe to use from any thread.
 */
#ifndef SEALPOST_SERVER_STORE_BACKEND_H
#define SEALPOST_SERVER_STORE_BACKEND_H

#include "server/store/store.h"

struct store_conn {
    struct store *store;     /* set by the pool */
    struct store_conn *next; /* pool free list */
};

struct store_ops {
    const char *name; /* "sqlite" */

    /* Open the database named by opt (creating it if needed), migrate it in
     * one transaction, and return the backend's global state in *backend and
     * the schema version in *version. */
    sp_status (*open)(void **backend, int *version, const struct store_options *opt);
    void (*close)(void *backend); /* NULL-safe; all connections closed */
    sp_status (*conn_open)(void *backend, struct store_conn **out);
    void (*conn_close)(struct store_conn *c); /* NULL-safe */

    sp_status (*begin)(struct store_conn *c);
    sp_status (*commit)(struct store_conn *c);
    void (*rollback)(struct store_conn *c);
    sp_status (*savepoint)(struct store_conn *c);
    sp_status (*release)(struct store_conn *c);
    void (*rollback_to)(struct store_conn *c);

    sp_status (*account_register)(struct store_conn *c, const struct wire_register *reg,
                                  const uint8_t address[static SP_ADDRESS_LEN], uint64_t now,
                                  uint32_t max_prekeys, bool *created, int64_t *account_id);
    sp_status (*account_by_address)(struct store_conn *c,
                                    const uint8_t address[static SP_ADDRESS_LEN],
                                    struct store_account *out);
    sp_status (*account_by_id)(struct store_conn *c, int64_t id, struct store_account *out);
    sp_status (*account_touch)(struct store_conn *c, int64_t id, uint64_t now);

    sp_status (*prekeys_add)(struct store_conn *c, int64_t account, const struct wire_prekey *pk,
                             size_t n, uint32_t max_total, uint64_t now, uint32_t *count_after);
    sp_status (*prekeys_count)(struct store_conn *c, int64_t account, uint32_t *count);
    sp_status (*signed_prekey_set)(struct store_conn *c, int64_t account,
                                   const struct wire_signed_prekey *spk, uint64_t now);
    sp_status (*bundle_take)(struct store_conn *c, int64_t target, struct wire_bundle *out);

    sp_status (*token_put)(struct store_conn *c, const uint8_t hash[static 32], int64_t account,
                           uint64_t expires_at);
    sp_status (*token_lookup)(struct store_conn *c, const uint8_t hash[static 32], uint64_t now,
                              int64_t *account);
    sp_status (*replay_put)(struct store_conn *c, const uint8_t key[static 32],
                            uint64_t expires_at);

    sp_status (*mail_put)(struct store_conn *c, int64_t recipient,
                          const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                          const uint8_t *content, size_t len, uint64_t now,
                          const struct sp_limits *lim, bool *duplicate);
    sp_status (*mail_fetch)(struct store_conn *c, int64_t account, uint64_t after, uint32_t limit,
                            size_t max_bytes, struct store_mail_page *out);
    sp_status (*mail_ack)(struct store_conn *c, int64_t account,
                          const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted);
    sp_status (*mail_pending)(struct store_conn *c, int64_t account, uint32_t *count);

    sp_status (*prune)(struct store_conn *c, const struct store_retention *r, uint64_t now,
                       struct store_prune_counts *out);
    sp_status (*checkpoint)(struct store_conn *c, bool *complete); /* may be a no-op */
    sp_status (*audit)(struct store_conn *c, struct store_audit *out);
    /* optional (NULL: store_audit_detail() answers SP_ERR_USAGE) */
    sp_status (*audit_detail)(struct store_conn *c, uint64_t now,
                              struct store_audit_detail *out);
};

/* The SQLite backend (store_sqlite.c); what store_open() uses. */
extern const struct store_ops store_sqlite_ops;

/* store_open() with an explicit backend, e.g. a test wrapper that fails on
 * demand around store_sqlite_ops. Same contract as store_open(). */
SP_WARN_UNUSED sp_status store_open_with(struct store **out, const struct store_ops *ops,
                                         const struct store_options *opt);

/* The backend state given to ops->conn_open, for wrappers. */
void *store_backend_state(const struct store *s);

#endif
