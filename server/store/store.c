/*
 * store.c: backend-neutral half of the store: the connection pool and the
 * dispatch of every store.h call through `struct store_ops`.
 *
 * Owns: struct store (ops, backend state, pool). Pool invariants: every
 * connection is either on the free list or held by exactly one caller;
 * `held` counts the latter. store_conn_get() blocks on a condvar until a
 * connection is returned. store_close() expects held == 0.
 *
 * Thread rules: the pool functions are thread-safe; a connection is used by
 * one thread at a time (whoever got it from the pool).
 */
#include "server/store/store.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"
#include "server/store/migrations.h"
#include "server/store/store_backend.h"

#define STORE_DEFAULT_POOL 4u

struct store {
    const struct store_ops *ops;
    void *backend;
    int version;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_conn **conns; /* all connections, for close */
    unsigned n_conns;
    struct store_conn *free_list;
    unsigned held;
};

sp_status store_open_with(struct store **out, const struct store_ops *ops,
                          const struct store_options *opt)
{
    sp_status st = SP_OK;
    struct store *s = NULL;
    bool sync_ready = false;

    *out = NULL;
    ENSURE(opt != NULL && opt->path != NULL && opt->path[0] != '\0', SP_ERR_USAGE);
    unsigned pool = opt->pool_size != 0 ? opt->pool_size : STORE_DEFAULT_POOL;
    ENSURE(pool <= 256, SP_ERR_USAGE);

    s = calloc(1, sizeof *s);
    ENSURE(s != NULL, SP_ERR_NOMEM);
    s->ops = ops;
    ENSURE(pthread_mutex_init(&s->mu, NULL) == 0, SP_ERR_INTERNAL);
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        ENSURE(false, SP_ERR_INTERNAL);
    }
    sync_ready = true;

    TRY(ops->open(&s->backend, &s->version, opt));
    s->conns = calloc(pool, sizeof *s->conns);
    ENSURE(s->conns != NULL, SP_ERR_NOMEM);
    for (unsigned i = 0; i < pool; i++) {
        struct store_conn *c = NULL;
        TRY(ops->conn_open(s->backend, &c));
        c->store = s;
        c->next = s->free_list;
        s->free_list = c;
        s->conns[s->n_conns++] = c;
    }
    SP_LOG_I("store: %s database open, schema version %d, %u connections", ops->name, s->version,
             pool);
    *out = s;
    s = NULL;
out:
    if (s != NULL) {
        for (unsigned i = 0; i < s->n_conns; i++)
            ops->conn_close(s->conns[i]);
        free(s->conns);
        if (s->backend != NULL)
            ops->close(s->backend);
        if (sync_ready) {
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
        }
        free(s);
    }
    return st;
}

sp_status store_open(struct store **out, const struct store_options *opt)
{
    return store_open_with(out, &store_sqlite_ops, opt);
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    assert(s->held == 0);
    if (s->held != 0)
        SP_LOG_E("store: closing with %u connections still held", s->held);
    for (unsigned i = 0; i < s->n_conns; i++)
        s->ops->conn_close(s->conns[i]);
    free(s->conns);
    s->ops->close(s->backend);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int store_schema_version(const struct store *s)
{
    return s->version;
}

int store_schema_latest(void)
{
    return store_migrations_count;
}

void *store_backend_state(const struct store *s)
{
    return s->backend;
}

sp_status store_conn_get(struct store *s, struct store_conn **out)
{
    pthread_mutex_lock(&s->mu);
    while (s->free_list == NULL)
        pthread_cond_wait(&s->cv, &s->mu);
    struct store_conn *c = s->free_list;
    s->free_list = c->next;
    c->next = NULL;
    s->held++;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return SP_OK;
}

void store_conn_put(struct store *s, struct store_conn *c)
{
    if (c == NULL)
        return;
    assert(c->store == s);
    /* A caller that forgot its transaction must not hand it to the next
     * user of this connection (no-op when none is open). */
    s->ops->rollback(c);
    pthread_mutex_lock(&s->mu);
    c->next = s->free_list;
    s->free_list = c;
    s->held--;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- dispatch */

#define OPS(c) ((c)->store->ops)

sp_status store_begin(struct store_conn *c)
{
    return OPS(c)->begin(c);
}

sp_status store_commit(struct store_conn *c)
{
    return OPS(c)->commit(c);
}

void store_rollback(struct store_conn *c)
{
    OPS(c)->rollback(c);
}

sp_status store_savepoint(struct store_conn *c)
{
    return OPS(c)->savepoint(c);
}

sp_status store_release(struct store_conn *c)
{
    return OPS(c)->release(c);
}

void store_rollback_to(struct store_conn *c)
{
    OPS(c)->rollback_to(c);
}

sp_status store_account_register(struct store_conn *c, const struct wire_register *reg,
                                 const uint8_t address[static SP_ADDRESS_LEN], uint64_t now,
                                 uint32_t max_prekeys, bool *created, int64_t *account_id)
{
    return OPS(c)->account_register(c, reg, address, now, max_prekeys, created, account_id);
}

sp_status store_account_by_address(struct store_conn *c,
                                   const uint8_t address[static SP_ADDRESS_LEN],
                                   struct store_account *out)
{
    return OPS(c)->account_by_address(c, address, out);
}

sp_status store_account_by_id(struct store_conn *c, int64_t id, struct store_account *out)
{
    return OPS(c)->account_by_id(c, id, out);
}

sp_status store_account_touch(struct store_conn *c, int64_t id, uint64_t now)
{
    return OPS(c)->account_touch(c, id, now);
}

sp_status store_prekeys_add(struct store_conn *c, int64_t account, const struct wire_prekey *pk,
                            size_t n, uint32_t max_total, uint64_t now, uint32_t *count_after)
{
    return OPS(c)->prekeys_add(c, account, pk, n, max_total, now, count_after);
}

sp_status store_prekeys_count(struct store_conn *c, int64_t account, uint32_t *count)
{
    return OPS(c)->prekeys_count(c, account, count);
}

sp_status store_signed_prekey_set(struct store_conn *c, int64_t account,
                                  const struct wire_signed_prekey *spk, uint64_t now)
{
    return OPS(c)->signed_prekey_set(c, account, spk, now);
}

sp_status store_bundle_take(struct store_conn *c, int64_t target, struct wire_bundle *out)
{
    return OPS(c)->bundle_take(c, target, out);
}

sp_status store_token_put(struct store_conn *c, const uint8_t hash[static 32], int64_t account,
                          uint64_t expires_at)
{
    return OPS(c)->token_put(c, hash, account, expires_at);
}

sp_status store_token_lookup(struct store_conn *c, const uint8_t hash[static 32], uint64_t now,
                             int64_t *account)
{
    return OPS(c)->token_lookup(c, hash, now, account);
}

sp_status store_replay_put(struct store_conn *c, const uint8_t key[static 32], uint64_t expires_at)
{
    return OPS(c)->replay_put(c, key, expires_at);
}

sp_status store_mail_put(struct store_conn *c, int64_t recipient,
                         const uint8_t message_id[static SP_MESSAGE_ID_LEN], const uint8_t *content,
                         size_t len, uint64_t now, const struct sp_limits *lim, bool *duplicate)
{
    return OPS(c)->mail_put(c, recipient, message_id, content, len, now, lim, duplicate);
}

sp_status store_mail_fetch(struct store_conn *c, int64_t account, uint64_t after, uint32_t limit,
                           size_t max_bytes, struct store_mail_page *out)
{
    return OPS(c)->mail_fetch(c, account, after, limit, max_bytes, out);
}

void store_mail_page_free(struct store_mail_page *p)
{
    if (p == NULL)
        return;
    free(p->items);
    free(p->storage);
    p->items = NULL;
    p->storage = NULL;
    p->n = 0;
    p->more = false;
}

sp_status store_mail_ack(struct store_conn *c, int64_t account,
                         const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted)
{
    return OPS(c)->mail_ack(c, account, ids, n, deleted);
}

sp_status store_mail_pending(struct store_conn *c, int64_t account, uint32_t *count)
{
    return OPS(c)->mail_pending(c, account, count);
}

sp_status store_prune(struct store_conn *c, const struct store_retention *r, uint64_t now,
                      struct store_prune_counts *out)
{
    return OPS(c)->prune(c, r, now, out);
}

sp_status store_checkpoint(struct store_conn *c, bool *complete)
{
    return OPS(c)->checkpoint(c, complete);
}

sp_status store_audit(struct store_conn *c, struct store_audit *out)
{
    return OPS(c)->audit(c, out);
}

sp_status store_audit_detail(struct store_conn *c, uint64_t now, struct store_audit_detail *out)
{
    if (OPS(c)->audit_detail == NULL)
        return SP_ERR_USAGE;
    return OPS(c)->audit_detail(c, now, out);
}
