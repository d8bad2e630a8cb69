/*
 * store_sqlite.c: the SQLite backend of the store (struct store_ops).
 *
 * The only file that includes sqlite3.h. Everything SQLite-specific lives
 * here: the file mode, PRAGMAs, WAL, prepared-statement caching, error-code
 * mapping. The SQL of the queries is portable (standard SQL plus
 * ... RETURNING and ON CONFLICT DO NOTHING, which PostgreSQL shares); the DDL
 * in migrations/ is SQLite dialect.
 *
 * Open: the file is created by us with mode 0600 (never by SQLite with the
 * umask's idea of a mode), then the first connection switches it to WAL,
 * migrates it in one BEGIN IMMEDIATE transaction and chmods -wal/-shm. That
 * connection becomes the pool's first one.
 *
 * Connections: each has its own cache of prepared statements (prepared once,
 * SQLITE_PREPARE_PERSISTENT, reset and unbound after every use, so no
 * statement holds a read snapshot or a pointer to caller memory between
 * calls). Opened SQLITE_OPEN_NOMUTEX: the pool guarantees one thread at a
 * time per connection.
 *
 * Atomicity: every mutating operation that runs more than one statement
 * wraps them in its own SAVEPOINT "op" (nested inside the caller's
 * transaction and job savepoint), so a failure leaves nothing changed even
 * if the caller forgets to roll back its job. Mail quota counters are kept by
 * triggers (migrations/0001_init.sql) in the same statement as the mail rows.
 *
 * Logging: SQLite's error messages name tables and constraints, never bound
 * values, so they can be logged; this file never logs keys, addresses,
 * hashes or contents.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secmem.h"
#include "server/store/migrations.h"
#include "server/store/store.h"
#include "server/store/store_backend.h"

#define SQ_DEFAULT_BUSY_MS     5000u
#define SQ_JOURNAL_SIZE_LIMIT  (16 * 1024 * 1024) /* bytes of WAL kept after a checkpoint */

/* ---- statements: one enum, one SQL table, prepared lazily per connection */

enum sq_stmt {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_JOB_SAVEPOINT,
    Q_JOB_RELEASE,
    Q_JOB_ROLLBACK_TO,
    Q_OP_SAVEPOINT,
    Q_OP_RELEASE,
    Q_OP_ROLLBACK_TO,
    Q_ACCOUNT_BY_ADDRESS,
    Q_ACCOUNT_BY_ID,
    Q_ACCOUNT_INSERT,
    Q_ACCOUNT_UPDATE,
    Q_ACCOUNT_TOUCH,
    Q_PREKEY_GET,
    Q_PREKEY_COUNT,
    Q_PREKEY_INSERT,
    Q_PREKEY_TAKE,
    Q_SPK_GET,
    Q_SPK_CURRENT,
    Q_SPK_SUPERSEDE,
    Q_SPK_INSERT,
    Q_TOKEN_INSERT,
    Q_TOKEN_GET,
    Q_REPLAY_INSERT,
    Q_MAIL_EXISTS,
    Q_MAIL_QUOTA,
    Q_MAIL_INSERT,
    Q_MAIL_FETCH,
    Q_MAIL_DELETE,
    Q_MAIL_PENDING,
    Q_PRUNE_MAIL,
    Q_PRUNE_TOKENS,
    Q_PRUNE_REPLAY,
    Q_PRUNE_SPK,
    Q_PRUNE_ACCOUNTS,
    Q_CHECKPOINT,
    Q_AUDIT,
    Q_AUDIT_MAIL_AGE,
    Q_AUDIT_ACCOUNT_AGE,
    Q_AUDIT_SIZES,
    Q_AUDIT_PAGES,
    Q_COUNT
};

static const char *const sq_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_JOB_SAVEPOINT] = "SAVEPOINT job",
    [Q_JOB_RELEASE] = "RELEASE job",
    [Q_JOB_ROLLBACK_TO] = "ROLLBACK TO job",
    [Q_OP_SAVEPOINT] = "SAVEPOINT op",
    [Q_OP_RELEASE] = "RELEASE op",
    [Q_OP_ROLLBACK_TO] = "ROLLBACK TO op",
    [Q_ACCOUNT_BY_ADDRESS] = "SELECT id, address, identity_key, registration_id, device_id"
                             " FROM accounts WHERE address = ?1",
    [Q_ACCOUNT_BY_ID] = "SELECT id, address, identity_key, registration_id, device_id"
                        " FROM accounts WHERE id = ?1",
    [Q_ACCOUNT_INSERT] = "INSERT INTO accounts (address, identity_key, registration_id, device_id,"
                         " created_hour, active_hour) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
    [Q_ACCOUNT_UPDATE] = "UPDATE accounts SET registration_id = ?2, device_id = ?3,"
                         " active_hour = CASE WHEN active_hour < ?4 THEN ?4 ELSE active_hour END"
                         " WHERE id = ?1",
    [Q_ACCOUNT_TOUCH] = "UPDATE accounts SET active_hour = ?2 WHERE id = ?1 AND active_hour < ?2",
    [Q_PREKEY_GET] = "SELECT public_key FROM prekeys WHERE account_id = ?1 AND key_id = ?2",
    [Q_PREKEY_COUNT] = "SELECT count(*) FROM prekeys WHERE account_id = ?1",
    [Q_PREKEY_INSERT] = "INSERT INTO prekeys (account_id, key_id, public_key) VALUES (?1, ?2, ?3)",
    /* The exactly-once hand-out: one statement finds and deletes the oldest
     * prekey and returns it. Writers are serialised by BEGIN IMMEDIATE, so
     * two takes can never see the same row. */
    [Q_PREKEY_TAKE] = "DELETE FROM prekeys WHERE seq = (SELECT seq FROM prekeys"
                      " WHERE account_id = ?1 ORDER BY seq LIMIT 1) RETURNING key_id, public_key",
    [Q_SPK_GET] = "SELECT public_key, superseded_hour FROM signed_prekeys"
                  " WHERE account_id = ?1 AND key_id = ?2",
    [Q_SPK_CURRENT] = "SELECT key_id, public_key, signature FROM signed_prekeys"
                      " WHERE account_id = ?1 AND superseded_hour IS NULL",
    [Q_SPK_SUPERSEDE] = "UPDATE signed_prekeys SET superseded_hour = ?2"
                        " WHERE account_id = ?1 AND superseded_hour IS NULL",
    [Q_SPK_INSERT] = "INSERT INTO signed_prekeys (account_id, key_id, public_key, signature)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens (hash, account_id, expires_at) VALUES (?1, ?2, ?3)",
    [Q_TOKEN_GET] = "SELECT hash, account_id, expires_at FROM tokens WHERE hash = ?1",
    [Q_REPLAY_INSERT] = "INSERT INTO replay (key, expires_at) VALUES (?1, ?2)"
                        " ON CONFLICT (key) DO NOTHING",
    [Q_MAIL_EXISTS] = "SELECT 1 FROM mail WHERE recipient_id = ?1 AND message_id = ?2",
    [Q_MAIL_QUOTA] = "SELECT mail_count, mail_bytes FROM accounts WHERE id = ?1",
    [Q_MAIL_INSERT] = "INSERT INTO mail (recipient_id, message_id, content, received_hour)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [Q_MAIL_FETCH] = "SELECT seq, message_id, content, received_hour FROM mail"
                     " WHERE recipient_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_MAIL_DELETE] = "DELETE FROM mail WHERE recipient_id = ?1 AND message_id = ?2",
    /* 0 for an unknown account: the readiness probe relies on that */
    [Q_MAIL_PENDING] = "SELECT coalesce((SELECT mail_count FROM accounts WHERE id = ?1), 0)",
    /* Retention: ?1 = the newest stored hour (or expiry) that is due, ?2 = batch. */
    [Q_PRUNE_MAIL] = "DELETE FROM mail WHERE seq IN (SELECT seq FROM mail"
                     " WHERE received_hour <= ?1 ORDER BY seq LIMIT ?2)",
    [Q_PRUNE_TOKENS] = "DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens"
                       " WHERE expires_at <= ?1 LIMIT ?2)",
    [Q_PRUNE_REPLAY] = "DELETE FROM replay WHERE key IN (SELECT key FROM replay"
                       " WHERE expires_at <= ?1 LIMIT ?2)",
    [Q_PRUNE_SPK] = "DELETE FROM signed_prekeys WHERE (account_id, key_id) IN"
                    " (SELECT account_id, key_id FROM signed_prekeys"
                    " WHERE superseded_hour <= ?1 LIMIT ?2)",
    [Q_PRUNE_ACCOUNTS] = "DELETE FROM accounts WHERE id IN (SELECT id FROM accounts"
                         " WHERE active_hour <= ?1 ORDER BY active_hour LIMIT ?2)",
    [Q_CHECKPOINT] = "PRAGMA wal_checkpoint(TRUNCATE)",
    [Q_AUDIT] = "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM prekeys),"
                " (SELECT count(*) FROM signed_prekeys),"
                " (SELECT count(*) FROM signed_prekeys WHERE superseded_hour IS NOT NULL),"
                " (SELECT count(*) FROM tokens), (SELECT count(*) FROM replay),"
                " (SELECT count(*) FROM mail), (SELECT coalesce(sum(mail_bytes), 0) FROM accounts),"
                " (SELECT coalesce(min(received_hour), 0) FROM mail),"
                " (SELECT coalesce(min(active_hour), 0) FROM accounts)",
    /* Age buckets of store_audit_detail: ?1 = now. */
#define SQ_AGE_BUCKET(col)                                                                         \
    "CASE WHEN ?1 - " col " < 3600 THEN 0 WHEN ?1 - " col " < 86400 THEN 1"                        \
    " WHEN ?1 - " col " < 604800 THEN 2 WHEN ?1 - " col " < 2592000 THEN 3 ELSE 4 END"
    [Q_AUDIT_MAIL_AGE] = "SELECT " SQ_AGE_BUCKET("received_hour") " AS b, count(*) FROM mail"
                         " GROUP BY b",
    [Q_AUDIT_ACCOUNT_AGE] = "SELECT " SQ_AGE_BUCKET("active_hour") " AS b, count(*) FROM accounts"
                            " GROUP BY b",
#undef SQ_AGE_BUCKET
    [Q_AUDIT_SIZES] = "SELECT length(content) AS n, count(*) FROM mail GROUP BY n ORDER BY n"
                      " LIMIT ?1",
    [Q_AUDIT_PAGES] = "SELECT page_size, page_count, freelist_count FROM pragma_page_size(),"
                      " pragma_page_count(), pragma_freelist_count()",
};

struct sq_backend {
    char *path;
    enum store_sync sync;
    unsigned busy_ms;
    struct sq_conn *first; /* the migrating connection, handed to the pool first */
};

struct sq_conn {
    struct store_conn base; /* must be first (store_backend.h) */
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
};

static struct sq_conn *sq(struct store_conn *c)
{
    return (struct sq_conn *)c;
}

/* ---- errors */

/* Map an SQLite result code to a status and log it (never with values). */
static sp_status sq_fail(sqlite3 *db, int rc, const char *what)
{
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        SP_LOG_W("store: %s: database busy: %s", what, msg);
        return SP_ERR_UNAVAILABLE;
    case SQLITE_NOMEM:
        SP_LOG_E("store: %s: out of memory", what);
        return SP_ERR_NOMEM;
    case SQLITE_CONSTRAINT:
        SP_LOG_D("store: %s: %s", what, msg);
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return SP_ERR_CONFLICT;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return SP_ERR_NOT_FOUND;
        default: /* CHECK, NOT NULL: a value out of its stored range */
            return SP_ERR_INVALID_FIELD;
        }
    default:
        SP_LOG_E("store: %s: %s (sqlite %d)", what, msg, rc);
        return SP_ERR_IO;
    }
}

/* ---- statement helpers */

static sp_status sq_prep(struct sq_conn *c, enum sq_stmt id, sqlite3_stmt **out)
{
    if (c->stmt[id] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            c->stmt[id] = NULL;
            return sq_fail(c->db, rc, "prepare");
        }
    }
    *out = c->stmt[id];
    return SP_OK;
}

/* Reset and unbind: blobs are bound SQLITE_STATIC, so no statement may keep
 * a caller's pointer past the call. NULL-safe. */
static void sq_done(sqlite3_stmt *q)
{
    if (q != NULL) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
}

#define BIND(expr)                                                                                 \
    do {                                                                                           \
        int bind_rc_ = (expr);                                                                     \
        if (bind_rc_ != SQLITE_OK) {                                                               \
            st = sq_fail(c->db, bind_rc_, what);                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int bind_blob(sqlite3_stmt *q, int i, const void *p, size_t n)
{
    if (n > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_blob(q, i, p, (int)n, SQLITE_STATIC);
}

static int bind_u64(sqlite3_stmt *q, int i, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX)
        return SQLITE_RANGE;
    return sqlite3_bind_int64(q, i, (int64_t)v);
}

/* Step once; SQLITE_ROW / SQLITE_DONE are success, anything else a status. */
static sp_status sq_step(struct sq_conn *c, sqlite3_stmt *q, const char *what, bool *row)
{
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *row = true;
        return SP_OK;
    }
    *row = false;
    if (rc == SQLITE_DONE)
        return SP_OK;
    return sq_fail(c->db, rc, what);
}

/* Copy a column that must be a blob of exactly n bytes. */
static sp_status col_blob(sqlite3_stmt *q, int i, uint8_t *dst, size_t n, const char *what)
{
    const void *p = sqlite3_column_blob(q, i);
    int len = sqlite3_column_bytes(q, i);
    if (p == NULL || len < 0 || (size_t)len != n) {
        SP_LOG_E("store: %s: stored value has the wrong length", what);
        return SP_ERR_INTERNAL;
    }
    memcpy(dst, p, n);
    return SP_OK;
}

/* Run a statement that takes no parameters and returns no rows. */
static sp_status sq_run(struct sq_conn *c, enum sq_stmt id, const char *what)
{
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    TRY(sq_prep(c, id, &q));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    return st;
}

/* ---- operation savepoint: all-or-nothing for multi-statement operations */

SP_WARN_UNUSED static sp_status op_begin(struct sq_conn *c)
{
    return sq_run(c, Q_OP_SAVEPOINT, "savepoint");
}

/* Release on success; on failure roll the operation back and keep `st`. */
SP_WARN_UNUSED static sp_status op_end(struct sq_conn *c, sp_status st)
{
    if (st == SP_OK) {
        st = sq_run(c, Q_OP_RELEASE, "release");
        if (st == SP_OK)
            return SP_OK;
    }
    /* Errors here mean SQLite already rolled back the whole transaction
     * (I/O error, full disk): the caller's commit will fail too. */
    if (sq_run(c, Q_OP_ROLLBACK_TO, "rollback to") == SP_OK &&
        sq_run(c, Q_OP_RELEASE, "release") != SP_OK)
        SP_LOG_E("store: could not release an operation savepoint");
    return st;
}

/* ---- open, migrate, connections */

static sp_status sq_exec(sqlite3 *db, const char *sql, const char *what)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc == SQLITE_OK)
        return SP_OK;
    sp_status st = sq_fail(db, rc, what);
    sqlite3_free(err);
    return st;
}

/* Create the file ourselves so its mode is 0600 whatever the umask, and
 * tighten an existing file that is readable by others. */
static sp_status sq_create_file(const char *path)
{
    sp_status st = SP_OK;
    struct stat sb;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        SP_LOG_E("store: cannot open the database file: %s", strerror(errno));
        return SP_ERR_IO;
    }
    ENSURE(fstat(fd, &sb) == 0, SP_ERR_IO);
    if (!S_ISREG(sb.st_mode)) {
        SP_LOG_E("store: the database path is not a regular file");
        ENSURE(false, SP_ERR_IO);
    }
    if ((sb.st_mode & 07777) != 0600) {
        if (fchmod(fd, 0600) != 0) {
            SP_LOG_E("store: cannot set the database file mode to 0600: %s", strerror(errno));
            ENSURE(false, SP_ERR_IO);
        }
        if ((sb.st_mode & 0077) != 0)
            SP_LOG_W("store: database file was accessible to others; mode set to 0600");
    }
out:
    close(fd);
    return st;
}

static sp_status sq_chmod_sidecars(const char *path)
{
    static const char *const suffix[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(path) + 5;
        char *p = malloc(n);
        if (p == NULL)
            return SP_ERR_NOMEM;
        snprintf(p, n, "%s%s", path, suffix[i]);
        int rc = chmod(p, 0600);
        int e = errno;
        free(p);
        if (rc != 0 && e != ENOENT) {
            SP_LOG_E("store: cannot set mode 0600 on the database %s file: %s", suffix[i] + 1,
                     strerror(e));
            return SP_ERR_IO;
        }
    }
    return SP_OK;
}

static void sq_conn_close(struct store_conn *base)
{
    struct sq_conn *c = sq(base);
    if (c == NULL)
        return;
    for (size_t i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    if (c->db != NULL && sqlite3_close_v2(c->db) != SQLITE_OK)
        SP_LOG_E("store: close: %s", sqlite3_errmsg(c->db));
    free(c);
}

/* Open one connection and apply the per-connection settings. */
static sp_status sq_conn_new(const struct sq_backend *b, struct sq_conn **out)
{
    sp_status st = SP_OK;
    struct sq_conn *c = NULL;
    char pragmas[256];
    int rc;

    c = calloc(1, sizeof *c);
    ENSURE(c != NULL, SP_ERR_NOMEM);
    /* No SQLITE_OPEN_CREATE: sq_create_file made the file with its mode. */
    rc = sqlite3_open_v2(b->path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
                         NULL);
    if (rc != SQLITE_OK) {
        st = sq_fail(c->db, rc, "open");
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, (int)(b->busy_ms > INT_MAX ? INT_MAX : b->busy_ms));
    /* Hardening: no schema corruption through PRAGMA, no functions with side
     * effects from the schema, no extensions. */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"
             " PRAGMA synchronous = %s; PRAGMA journal_size_limit = %d;",
             b->sync == STORE_SYNC_NORMAL ? "NORMAL" : "FULL", SQ_JOURNAL_SIZE_LIMIT);
    TRY(sq_exec(c->db, pragmas, "pragmas"));
    *out = c;
    c = NULL;
out:
    sq_conn_close(c != NULL ? &c->base : NULL);
    return st;
}

static sp_status sq_wal(sqlite3 *db)
{
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(db, rc, "journal_mode");
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        st = sq_fail(db, rc, "journal_mode");
        goto out;
    }
    const unsigned char *mode = sqlite3_column_text(q, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        SP_LOG_E("store: the database cannot use WAL mode (journal_mode is %s)",
                 mode != NULL ? (const char *)mode : "unknown");
        st = SP_ERR_IO;
    }
out:
    sqlite3_finalize(q);
    return st;
}

static uint64_t sq_now_hour(void)
{
    time_t t = time(NULL);
    return store_hour(t > 0 ? (uint64_t)t : 0);
}

/* Bring the schema up to date in one transaction; see migrations.h. */
static sp_status sq_migrate(sqlite3 *db, int *version)
{
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool in_tx = false;
    int cur = 0, rc;
    const int latest = store_migrations_count;

    TRY(sq_exec(db, "BEGIN IMMEDIATE", "migrate"));
    in_tx = true;
    TRY(sq_exec(db,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, applied_hour INTEGER NOT NULL)",
                "migrate"));
    rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &q,
                            NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        cur = sqlite3_column_int(q, 0);
    else {
        st = sq_fail(db, rc, "migrate");
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;

    if (cur > latest) {
        SP_LOG_E("database schema version %d is newer than this sealpostd (knows up to %d)", cur,
                 latest);
        ENSURE(false, SP_ERR_IO);
    }
    ENSURE(cur >= 0, SP_ERR_IO);

    rc = sqlite3_prepare_v2(db, "INSERT INTO schema_migrations (version, applied_hour)"
                                " VALUES (?1, ?2)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        st = sq_fail(db, rc, "migrate");
        goto out;
    }
    for (int v = cur + 1; v <= latest; v++) {
        const struct store_migration *m = &store_migrations[v - 1];
        if (m->version != v) {
            SP_LOG_E("store: embedded migrations are out of order at %d", v);
            ENSURE(false, SP_ERR_INTERNAL);
        }
        TRY(sq_exec(db, m->sql, "migration"));
        sqlite3_bind_int(q, 1, v);
        sqlite3_bind_int64(q, 2, (int64_t)sq_now_hour());
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) {
            st = sq_fail(db, rc, "migrate");
            goto out;
        }
        SP_LOG_I("store: applied migration %04d_%s", v, m->name);
    }
    TRY(sq_exec(db, "COMMIT", "migrate"));
    in_tx = false;
    *version = latest;
out:
    sqlite3_finalize(q);
    if (in_tx && !sqlite3_get_autocommit(db) && sq_exec(db, "ROLLBACK", "migrate") != SP_OK)
        SP_LOG_E("store: could not roll back the migration transaction");
    return st;
}

static void sq_close(void *backend)
{
    struct sq_backend *b = backend;
    if (b == NULL)
        return;
    sq_conn_close(b->first != NULL ? &b->first->base : NULL);
    free(b->path);
    free(b);
}

static sp_status sq_open(void **backend, int *version, const struct store_options *opt)
{
    sp_status st = SP_OK;
    struct sq_backend *b = NULL;

    *backend = NULL;
    if (sqlite3_threadsafe() == 0) {
        SP_LOG_E("store: SQLite was built without thread support");
        return SP_ERR_INTERNAL;
    }
    b = calloc(1, sizeof *b);
    ENSURE(b != NULL, SP_ERR_NOMEM);
    b->path = strdup(opt->path);
    ENSURE(b->path != NULL, SP_ERR_NOMEM);
    b->sync = opt->sync == STORE_SYNC_NORMAL ? STORE_SYNC_NORMAL : STORE_SYNC_FULL;
    b->busy_ms = opt->busy_timeout_ms != 0 ? opt->busy_timeout_ms : SQ_DEFAULT_BUSY_MS;

    TRY(sq_create_file(b->path));
    TRY(sq_conn_new(b, &b->first));
    TRY(sq_wal(b->first->db));
    TRY(sq_migrate(b->first->db, version));
    TRY(sq_chmod_sidecars(b->path));
    *backend = b;
    b = NULL;
out:
    sq_close(b);
    return st;
}

static sp_status sq_conn_open(void *backend, struct store_conn **out)
{
    struct sq_backend *b = backend;
    struct sq_conn *c = NULL;
    if (b->first != NULL) {
        c = b->first;
        b->first = NULL;
    } else {
        sp_status st = sq_conn_new(b, &c);
        if (st != SP_OK)
            return st;
    }
    *out = &c->base;
    return SP_OK;
}

/* ---- transactions */

static sp_status sq_begin(struct store_conn *base)
{
    return sq_run(sq(base), Q_BEGIN, "begin");
}

static void sq_rollback(struct store_conn *base)
{
    struct sq_conn *c = sq(base);
    if (sqlite3_get_autocommit(c->db))
        return; /* nothing open (or SQLite rolled back already) */
    if (sq_run(c, Q_ROLLBACK, "rollback") != SP_OK)
        SP_LOG_E("store: rollback failed");
}

/* On failure the transaction is rolled back, so the connection is always
 * clean afterwards; a later store_rollback() is a harmless no-op. */
static sp_status sq_commit(struct store_conn *base)
{
    struct sq_conn *c = sq(base);
    sp_status st = sq_run(c, Q_COMMIT, "commit");
    if (st != SP_OK)
        sq_rollback(base);
    return st;
}

static sp_status sq_savepoint(struct store_conn *base)
{
    return sq_run(sq(base), Q_JOB_SAVEPOINT, "savepoint");
}

static sp_status sq_release(struct store_conn *base)
{
    return sq_run(sq(base), Q_JOB_RELEASE, "release");
}

static void sq_rollback_to(struct store_conn *base)
{
    struct sq_conn *c = sq(base);
    if (sq_run(c, Q_JOB_ROLLBACK_TO, "rollback to") != SP_OK ||
        sq_run(c, Q_JOB_RELEASE, "release") != SP_OK)
        SP_LOG_E("store: could not roll back a job savepoint");
}

/* ---- accounts */

static sp_status read_account(sqlite3_stmt *q, struct store_account *out, const char *what)
{
    sp_status st = SP_OK;
    out->id = sqlite3_column_int64(q, 0);
    TRY(col_blob(q, 1, out->address, SP_ADDRESS_LEN, what));
    TRY(col_blob(q, 2, out->identity_key, SP_PUBKEY_LEN, what));
    out->registration_id = (uint32_t)sqlite3_column_int64(q, 3);
    out->device_id = (uint32_t)sqlite3_column_int64(q, 4);
out:
    return st;
}

static sp_status sq_account_by_address(struct store_conn *base,
                                       const uint8_t address[static SP_ADDRESS_LEN],
                                       struct store_account *out)
{
    static const char what[] = "account_by_address";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_ACCOUNT_BY_ADDRESS, &q));
    BIND(bind_blob(q, 1, address, SP_ADDRESS_LEN));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_NOT_FOUND);
    TRY(read_account(q, out, what));
out:
    sq_done(q);
    return st;
}

static sp_status sq_account_by_id(struct store_conn *base, int64_t id, struct store_account *out)
{
    static const char what[] = "account_by_id";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_ACCOUNT_BY_ID, &q));
    BIND(sqlite3_bind_int64(q, 1, id));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_NOT_FOUND);
    TRY(read_account(q, out, what));
out:
    sq_done(q);
    return st;
}

static sp_status sq_account_touch(struct store_conn *base, int64_t id, uint64_t now)
{
    static const char what[] = "account_touch";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_ACCOUNT_TOUCH, &q));
    BIND(sqlite3_bind_int64(q, 1, id));
    BIND(bind_u64(q, 2, store_hour(now)));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    return st;
}

/* ---- prekeys */

static sp_status prekey_count(struct sq_conn *c, int64_t account, uint32_t *count)
{
    static const char what[] = "prekeys_count";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_PREKEY_COUNT, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_INTERNAL);
    sqlite3_int64 v = sqlite3_column_int64(q, 0);
    *count = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
out:
    sq_done(q);
    return st;
}

static sp_status sq_prekeys_count(struct store_conn *base, int64_t account, uint32_t *count)
{
    return prekey_count(sq(base), account, count);
}

/* *present = whether (account, id) is stored; SP_ERR_CONFLICT if it is,
 * with other bytes. */
static sp_status prekey_check(struct sq_conn *c, int64_t account, const struct wire_prekey *pk,
                              bool *present)
{
    static const char what[] = "prekeys_add";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    uint8_t stored[SP_PUBKEY_LEN];

    TRY(sq_prep(c, Q_PREKEY_GET, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(sqlite3_bind_int64(q, 2, pk->id));
    TRY(sq_step(c, q, what, &row));
    *present = row;
    if (row) {
        TRY(col_blob(q, 0, stored, sizeof stored, what));
        ENSURE(memcmp(stored, pk->public_key, sizeof stored) == 0, SP_ERR_CONFLICT);
    }
out:
    sq_done(q);
    return st;
}

static sp_status prekey_insert(struct sq_conn *c, int64_t account, const struct wire_prekey *pk)
{
    static const char what[] = "prekeys_add";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_PREKEY_INSERT, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(sqlite3_bind_int64(q, 2, pk->id));
    BIND(bind_blob(q, 3, pk->public_key, SP_PUBKEY_LEN));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    return st;
}

/* Check everything first, then insert; the op savepoint covers the rest
 * (e.g. one id twice in the input with different bytes). */
static sp_status prekeys_add(struct sq_conn *c, int64_t account, const struct wire_prekey *pk,
                             size_t n, uint32_t max_total, uint32_t *count_after)
{
    sp_status st = SP_OK;
    bool *present = NULL;
    bool op = false;
    uint32_t count = 0;
    size_t fresh = 0;

    if (n == 0) {
        TRY(prekey_count(c, account, &count));
        goto done;
    }
    present = calloc(n, sizeof *present);
    ENSURE(present != NULL, SP_ERR_NOMEM);
    TRY(op_begin(c));
    op = true;
    for (size_t i = 0; i < n; i++) {
        TRY(prekey_check(c, account, &pk[i], &present[i]));
        if (!present[i])
            fresh++;
    }
    TRY(prekey_count(c, account, &count));
    ENSURE(fresh <= max_total && count <= max_total - fresh, SP_ERR_PREKEY_LIMIT);
    for (size_t i = 0; i < n; i++)
        if (!present[i])
            TRY(prekey_insert(c, account, &pk[i]));
    count += (uint32_t)fresh;
done:
    if (count_after != NULL)
        *count_after = count;
out:
    if (op)
        st = op_end(c, st);
    free(present);
    return st;
}

static sp_status sq_prekeys_add(struct store_conn *base, int64_t account,
                                const struct wire_prekey *pk, size_t n, uint32_t max_total,
                                uint64_t now, uint32_t *count_after)
{
    (void)now; /* upload times are not stored */
    return prekeys_add(sq(base), account, pk, n, max_total, count_after);
}

static sp_status signed_prekey_set(struct sq_conn *c, int64_t account,
                                   const struct wire_signed_prekey *spk, uint64_t now)
{
    static const char what[] = "signed_prekey_set";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false, op = false;
    uint8_t stored[SP_PUBKEY_LEN];

    TRY(sq_prep(c, Q_SPK_GET, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(sqlite3_bind_int64(q, 2, spk->id));
    TRY(sq_step(c, q, what, &row));
    if (row) {
        /* The id is known. Same key and still current: an idempotent retry
         * (the signature is not compared: XEdDSA signatures are randomised
         * and the API verified this one). Other bytes, or a key that was
         * already superseded: rotation only moves forward. */
        TRY(col_blob(q, 0, stored, sizeof stored, what));
        ENSURE(memcmp(stored, spk->public_key, sizeof stored) == 0, SP_ERR_CONFLICT);
        ENSURE(sqlite3_column_type(q, 1) == SQLITE_NULL, SP_ERR_CONFLICT);
        goto out;
    }
    sq_done(q);
    q = NULL;

    TRY(op_begin(c));
    op = true;
    TRY(sq_prep(c, Q_SPK_SUPERSEDE, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(bind_u64(q, 2, store_hour(now)));
    TRY(sq_step(c, q, what, &row));
    sq_done(q);
    TRY(sq_prep(c, Q_SPK_INSERT, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(sqlite3_bind_int64(q, 2, spk->id));
    BIND(bind_blob(q, 3, spk->public_key, SP_PUBKEY_LEN));
    BIND(bind_blob(q, 4, spk->signature, SP_SIGNATURE_LEN));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    if (op)
        st = op_end(c, st);
    return st;
}

static sp_status sq_signed_prekey_set(struct store_conn *base, int64_t account,
                                      const struct wire_signed_prekey *spk, uint64_t now)
{
    return signed_prekey_set(sq(base), account, spk, now);
}

static sp_status sq_account_register(struct store_conn *base, const struct wire_register *reg,
                                     const uint8_t address[static SP_ADDRESS_LEN], uint64_t now,
                                     uint32_t max_prekeys, bool *created, int64_t *account_id)
{
    static const char what[] = "account_register";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false, op = false, is_new = false;
    int64_t id = 0;
    uint8_t stored[SP_PUBKEY_LEN];

    TRY(op_begin(c));
    op = true;
    TRY(sq_prep(c, Q_ACCOUNT_BY_ADDRESS, &q));
    BIND(bind_blob(q, 1, address, SP_ADDRESS_LEN));
    TRY(sq_step(c, q, what, &row));
    if (row) {
        id = sqlite3_column_int64(q, 0);
        TRY(col_blob(q, 2, stored, sizeof stored, what));
        ENSURE(memcmp(stored, reg->identity_key, sizeof stored) == 0, SP_ERR_CONFLICT);
        sq_done(q);
        /* Same identity: the caller proved it holds the key, so its
         * registration id (reinstalled state) is authoritative. */
        TRY(sq_prep(c, Q_ACCOUNT_UPDATE, &q));
        BIND(sqlite3_bind_int64(q, 1, id));
        BIND(sqlite3_bind_int64(q, 2, reg->registration_id));
        BIND(sqlite3_bind_int64(q, 3, reg->device_id));
        BIND(bind_u64(q, 4, store_hour(now)));
        TRY(sq_step(c, q, what, &row));
    } else {
        sq_done(q);
        TRY(sq_prep(c, Q_ACCOUNT_INSERT, &q));
        BIND(bind_blob(q, 1, address, SP_ADDRESS_LEN));
        BIND(bind_blob(q, 2, reg->identity_key, SP_PUBKEY_LEN));
        BIND(sqlite3_bind_int64(q, 3, reg->registration_id));
        BIND(sqlite3_bind_int64(q, 4, reg->device_id));
        BIND(bind_u64(q, 5, store_hour(now)));
        TRY(sq_step(c, q, what, &row));
        ENSURE(row, SP_ERR_INTERNAL);
        id = sqlite3_column_int64(q, 0);
        TRY(sq_step(c, q, what, &row));
        is_new = true;
    }
    sq_done(q);
    q = NULL;
    TRY(signed_prekey_set(c, id, &reg->signed_prekey, now));
    TRY(prekeys_add(c, id, reg->prekeys, reg->n_prekeys, max_prekeys, NULL));
    *created = is_new;
    *account_id = id;
out:
    sq_done(q);
    if (op)
        st = op_end(c, st);
    return st;
}

static sp_status sq_bundle_take(struct store_conn *base, int64_t target, struct wire_bundle *out)
{
    static const char what[] = "bundle_take";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    struct store_account acct;

    memset(out, 0, sizeof *out);
    TRY(sq_account_by_id(base, target, &acct));
    memcpy(out->identity_key, acct.identity_key, SP_PUBKEY_LEN);
    out->registration_id = acct.registration_id;
    out->device_id = acct.device_id;

    TRY(sq_prep(c, Q_SPK_CURRENT, &q));
    BIND(sqlite3_bind_int64(q, 1, target));
    TRY(sq_step(c, q, what, &row));
    if (!row) {
        /* register always sets one in the same transaction */
        SP_LOG_E("store: %s: account has no current signed prekey", what);
        ENSURE(false, SP_ERR_INTERNAL);
    }
    out->signed_prekey.id = (uint32_t)sqlite3_column_int64(q, 0);
    TRY(col_blob(q, 1, out->signed_prekey.public_key, SP_PUBKEY_LEN, what));
    TRY(col_blob(q, 2, out->signed_prekey.signature, SP_SIGNATURE_LEN, what));
    sq_done(q);

    TRY(sq_prep(c, Q_PREKEY_TAKE, &q));
    BIND(sqlite3_bind_int64(q, 1, target));
    TRY(sq_step(c, q, what, &row));
    if (row) {
        out->prekey.id = (uint32_t)sqlite3_column_int64(q, 0);
        TRY(col_blob(q, 1, out->prekey.public_key, SP_PUBKEY_LEN, what));
        out->has_prekey = true;
        TRY(sq_step(c, q, what, &row)); /* run the statement to completion */
    }
out:
    sq_done(q);
    if (st != SP_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* ---- credentials */

static sp_status sq_token_put(struct store_conn *base, const uint8_t hash[static 32],
                              int64_t account, uint64_t expires_at)
{
    static const char what[] = "token_put";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_TOKEN_INSERT, &q));
    BIND(bind_blob(q, 1, hash, 32));
    BIND(sqlite3_bind_int64(q, 2, account));
    BIND(bind_u64(q, 3, expires_at));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    return st;
}

static sp_status sq_token_lookup(struct store_conn *base, const uint8_t hash[static 32],
                                 uint64_t now, int64_t *account)
{
    static const char what[] = "token_lookup";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    uint8_t stored[32];

    TRY(sq_prep(c, Q_TOKEN_GET, &q));
    BIND(bind_blob(q, 1, hash, 32));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_UNAUTHENTICATED);
    TRY(col_blob(q, 0, stored, sizeof stored, what));
    ENSURE(sp_ct_equal(stored, hash, sizeof stored), SP_ERR_UNAUTHENTICATED);
    sqlite3_int64 exp = sqlite3_column_int64(q, 2);
    ENSURE(exp > 0 && (uint64_t)exp > now, SP_ERR_UNAUTHENTICATED);
    *account = sqlite3_column_int64(q, 1);
out:
    sq_done(q);
    sp_wipe(stored, sizeof stored);
    return st;
}

static sp_status sq_replay_put(struct store_conn *base, const uint8_t key[static 32],
                               uint64_t expires_at)
{
    static const char what[] = "replay_put";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_REPLAY_INSERT, &q));
    BIND(bind_blob(q, 1, key, 32));
    BIND(bind_u64(q, 2, expires_at));
    TRY(sq_step(c, q, what, &row));
    ENSURE(sqlite3_changes(c->db) == 1, SP_ERR_REPLAY);
out:
    sq_done(q);
    return st;
}

/* ---- mail */

static sp_status sq_mail_put(struct store_conn *base, int64_t recipient,
                             const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                             const uint8_t *content, size_t len, uint64_t now,
                             const struct sp_limits *lim, bool *duplicate)
{
    static const char what[] = "mail_put";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    *duplicate = false;
    ENSURE(content != NULL && len > 0, SP_ERR_USAGE);
    /* A retried send is a duplicate even when the mailbox has filled up
     * since: check that first. */
    TRY(sq_prep(c, Q_MAIL_EXISTS, &q));
    BIND(sqlite3_bind_int64(q, 1, recipient));
    BIND(bind_blob(q, 2, message_id, SP_MESSAGE_ID_LEN));
    TRY(sq_step(c, q, what, &row));
    if (row) {
        *duplicate = true;
        goto out;
    }
    sq_done(q);

    TRY(sq_prep(c, Q_MAIL_QUOTA, &q));
    BIND(sqlite3_bind_int64(q, 1, recipient));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_NOT_FOUND);
    sqlite3_int64 count = sqlite3_column_int64(q, 0);
    sqlite3_int64 bytes = sqlite3_column_int64(q, 1);
    ENSURE(count >= 0 && bytes >= 0, SP_ERR_INTERNAL);
    ENSURE((uint64_t)count + 1 <= lim->mailbox_max_messages, SP_ERR_MAILBOX_FULL);
    ENSURE(len <= lim->mailbox_max_bytes && (uint64_t)bytes <= lim->mailbox_max_bytes - len,
           SP_ERR_MAILBOX_FULL);
    sq_done(q);

    /* One statement: the row and (by trigger) the quota counters. */
    TRY(sq_prep(c, Q_MAIL_INSERT, &q));
    BIND(sqlite3_bind_int64(q, 1, recipient));
    BIND(bind_blob(q, 2, message_id, SP_MESSAGE_ID_LEN));
    BIND(bind_blob(q, 3, content, len));
    BIND(bind_u64(q, 4, store_hour(now)));
    TRY(sq_step(c, q, what, &row));
out:
    sq_done(q);
    return st;
}

struct fetch_acc {
    struct store_mail *items;
    size_t cap_items;
    uint8_t *storage;
    size_t used, cap;
    size_t *offsets; /* content offsets into storage until the final fix-up */
};

static sp_status fetch_append(struct fetch_acc *a, size_t i, const void *p, size_t n)
{
    if (i == a->cap_items) {
        size_t cap = a->cap_items ? a->cap_items * 2 : 16;
        struct store_mail *items = realloc(a->items, cap * sizeof *items);
        if (items == NULL)
            return SP_ERR_NOMEM;
        a->items = items;
        size_t *offs = realloc(a->offsets, cap * sizeof *offs);
        if (offs == NULL)
            return SP_ERR_NOMEM;
        a->offsets = offs;
        a->cap_items = cap;
    }
    if (n > a->cap - a->used) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap - a->used < n) {
            if (cap > SIZE_MAX / 2)
                return SP_ERR_NOMEM;
            cap *= 2;
        }
        uint8_t *s = realloc(a->storage, cap);
        if (s == NULL)
            return SP_ERR_NOMEM;
        a->storage = s;
        a->cap = cap;
    }
    if (n > 0)
        memcpy(a->storage + a->used, p, n);
    a->offsets[i] = a->used;
    a->used += n;
    return SP_OK;
}

static sp_status sq_mail_fetch(struct store_conn *base, int64_t account, uint64_t after,
                               uint32_t limit, size_t max_bytes, struct store_mail_page *out)
{
    static const char what[] = "mail_fetch";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    struct fetch_acc a = {0};
    size_t n = 0, bytes = 0;
    bool more = false;

    memset(out, 0, sizeof *out);
    ENSURE(limit > 0, SP_ERR_USAGE);
    TRY(sq_prep(c, Q_MAIL_FETCH, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    BIND(bind_u64(q, 2, after));
    BIND(sqlite3_bind_int64(q, 3, (sqlite3_int64)limit + 1)); /* one extra row: `more` */
    for (;;) {
        TRY(sq_step(c, q, what, &row));
        if (!row)
            break;
        const void *p = sqlite3_column_blob(q, 2);
        int len = sqlite3_column_bytes(q, 2);
        ENSURE(p != NULL && len > 0, SP_ERR_INTERNAL);
        if (n == limit || (n > 0 && ((size_t)len > max_bytes || bytes > max_bytes - (size_t)len))) {
            more = true; /* over the item limit or the byte budget */
            break;
        }
        TRY(fetch_append(&a, n, p, (size_t)len));
        struct store_mail *m = &a.items[n];
        m->seq = (uint64_t)sqlite3_column_int64(q, 0);
        TRY(col_blob(q, 1, m->message_id, SP_MESSAGE_ID_LEN, what));
        m->content_len = (size_t)len;
        m->received_hour = (uint64_t)sqlite3_column_int64(q, 3);
        bytes += (size_t)len;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        a.items[i].content = a.storage + a.offsets[i];
    out->n = n;
    out->items = a.items;
    out->storage = a.storage;
    out->more = more;
    a.items = NULL;
    a.storage = NULL;
out:
    sq_done(q);
    free(a.items);
    free(a.storage);
    free(a.offsets);
    return st;
}

static sp_status sq_mail_ack(struct store_conn *base, int64_t account,
                             const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted)
{
    static const char what[] = "mail_ack";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false, op = false;
    uint32_t total = 0;

    *deleted = 0;
    if (n == 0)
        return SP_OK;
    TRY(op_begin(c));
    op = true;
    TRY(sq_prep(c, Q_MAIL_DELETE, &q));
    for (size_t i = 0; i < n; i++) {
        BIND(sqlite3_bind_int64(q, 1, account));
        BIND(bind_blob(q, 2, ids[i], SP_MESSAGE_ID_LEN));
        TRY(sq_step(c, q, what, &row));
        total += (uint32_t)sqlite3_changes(c->db);
        sq_done(q);
    }
out:
    sq_done(q);
    if (op)
        st = op_end(c, st);
    if (st == SP_OK)
        *deleted = total;
    return st;
}

static sp_status sq_mail_pending(struct store_conn *base, int64_t account, uint32_t *count)
{
    static const char what[] = "mail_pending";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, Q_MAIL_PENDING, &q));
    BIND(sqlite3_bind_int64(q, 1, account));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_INTERNAL);
    sqlite3_int64 v = sqlite3_column_int64(q, 0);
    *count = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
out:
    sq_done(q);
    return st;
}

/* ---- retention */

/* Delete up to `batch` rows due at `due` with statement `id`. */
static sp_status prune_one(struct sq_conn *c, enum sq_stmt id, uint64_t due, uint32_t batch,
                           uint32_t *deleted, bool *more)
{
    static const char what[] = "prune";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, id, &q));
    BIND(bind_u64(q, 1, due));
    BIND(sqlite3_bind_int64(q, 2, batch));
    TRY(sq_step(c, q, what, &row));
    /* direct rows only: cascades and triggers are not counted */
    int n = sqlite3_changes(c->db);
    *deleted = n < 0 ? 0 : (uint32_t)n;
    if (*deleted >= batch)
        *more = true;
out:
    sq_done(q);
    return st;
}

static sp_status sq_prune(struct store_conn *base, const struct store_retention *r, uint64_t now,
                          struct store_prune_counts *out)
{
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    bool op = false;
    struct store_prune_counts n = {0};

    memset(out, 0, sizeof *out);
    ENSURE(r->batch > 0, SP_ERR_USAGE);
    TRY(op_begin(c));
    op = true;
    /* "stored hour + period <= now", written as "stored hour <= now - period" */
    if (now >= r->envelope_ttl_s)
        TRY(prune_one(c, Q_PRUNE_MAIL, now - r->envelope_ttl_s, r->batch, &n.mail, &n.more));
    TRY(prune_one(c, Q_PRUNE_TOKENS, now, r->batch, &n.tokens, &n.more));
    TRY(prune_one(c, Q_PRUNE_REPLAY, now, r->batch, &n.replay, &n.more));
    if (now >= r->signed_prekey_grace_s)
        TRY(prune_one(c, Q_PRUNE_SPK, now - r->signed_prekey_grace_s, r->batch, &n.signed_prekeys,
                      &n.more));
    if (r->account_idle_s > 0 && now >= r->account_idle_s)
        TRY(prune_one(c, Q_PRUNE_ACCOUNTS, now - r->account_idle_s, r->batch, &n.accounts,
                      &n.more));
out:
    if (op)
        st = op_end(c, st);
    if (st == SP_OK)
        *out = n;
    return st;
}

static sp_status sq_checkpoint(struct store_conn *base, bool *complete)
{
    static const char what[] = "checkpoint";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    *complete = false;
    ENSURE(sqlite3_get_autocommit(c->db), SP_ERR_USAGE); /* not inside a transaction */
    TRY(sq_prep(c, Q_CHECKPOINT, &q));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_INTERNAL);
    *complete = sqlite3_column_int(q, 0) == 0;
out:
    sq_done(q);
    return st;
}

static sp_status sq_audit(struct store_conn *base, struct store_audit *out)
{
    static const char what[] = "audit";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;
    uint64_t *const dst[] = {&out->accounts,       &out->prekeys,    &out->signed_prekeys,
                             &out->superseded_signed_prekeys,        &out->tokens,
                             &out->replay,         &out->mail,       &out->mail_bytes,
                             &out->oldest_mail_hour, &out->oldest_active_hour};

    memset(out, 0, sizeof *out);
    TRY(sq_prep(c, Q_AUDIT, &q));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_INTERNAL);
    for (int i = 0; i < (int)(sizeof dst / sizeof dst[0]); i++) {
        sqlite3_int64 v = sqlite3_column_int64(q, i);
        *dst[i] = v < 0 ? 0 : (uint64_t)v;
    }
out:
    sq_done(q);
    return st;
}

/* Rows of (bucket, count) into h[STORE_AGE_BUCKETS]. */
static sp_status audit_ages(struct sq_conn *c, enum sq_stmt id, uint64_t now, uint64_t *h)
{
    static const char what[] = "audit";
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    TRY(sq_prep(c, id, &q));
    BIND(bind_u64(q, 1, now));
    for (;;) {
        TRY(sq_step(c, q, what, &row));
        if (!row)
            break;
        sqlite3_int64 b = sqlite3_column_int64(q, 0), n = sqlite3_column_int64(q, 1);
        if (b < 0) /* a stored hour after `now` (clock stepped back): youngest */
            b = 0;
        if (b >= STORE_AGE_BUCKETS)
            b = STORE_AGE_BUCKETS - 1;
        h[b] += n < 0 ? 0 : (uint64_t)n;
    }
out:
    sq_done(q);
    return st;
}

/* Pages per table and index from the dbstat virtual table, when this SQLite
 * has it. Prepared uncached and without logging: its absence is normal. */
static void audit_objects(struct sq_conn *c, struct store_audit_detail *out)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT name, count(*), sum(pgsize), sum(payload) FROM dbstat"
                           " GROUP BY name ORDER BY name",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    out->have_objects = true;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && out->n_objects < STORE_AUDIT_OBJECTS) {
        struct store_audit_object *o = &out->objects[out->n_objects++];
        const unsigned char *name = sqlite3_column_text(q, 0);
        snprintf(o->name, sizeof o->name, "%s", name != NULL ? (const char *)name : "?");
        o->pages = (uint64_t)sqlite3_column_int64(q, 1);
        o->bytes = (uint64_t)sqlite3_column_int64(q, 2);
        o->payload = (uint64_t)sqlite3_column_int64(q, 3);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        out->have_objects = false;
        out->n_objects = 0;
    }
    sqlite3_finalize(q);
}

static sp_status sq_audit_detail(struct store_conn *base, uint64_t now,
                                 struct store_audit_detail *out)
{
    static const char what[] = "audit";
    struct sq_conn *c = sq(base);
    sp_status st = SP_OK;
    sqlite3_stmt *q = NULL;
    bool row = false;

    memset(out, 0, sizeof *out);
    TRY(audit_ages(c, Q_AUDIT_MAIL_AGE, now, out->mail_age));
    TRY(audit_ages(c, Q_AUDIT_ACCOUNT_AGE, now, out->account_idle));

    TRY(sq_prep(c, Q_AUDIT_SIZES, &q));
    BIND(sqlite3_bind_int(q, 1, STORE_AUDIT_SIZES + 1)); /* one extra row: truncated */
    for (;;) {
        TRY(sq_step(c, q, what, &row));
        if (!row)
            break;
        if (out->n_sizes == STORE_AUDIT_SIZES) {
            out->sizes_truncated = true;
            break;
        }
        out->sizes[out->n_sizes].bytes = (uint64_t)sqlite3_column_int64(q, 0);
        out->sizes[out->n_sizes].count = (uint64_t)sqlite3_column_int64(q, 1);
        out->n_sizes++;
    }
    sq_done(q);

    TRY(sq_prep(c, Q_AUDIT_PAGES, &q));
    TRY(sq_step(c, q, what, &row));
    ENSURE(row, SP_ERR_INTERNAL);
    out->page_size = (uint64_t)sqlite3_column_int64(q, 0);
    out->page_count = (uint64_t)sqlite3_column_int64(q, 1);
    out->freelist_count = (uint64_t)sqlite3_column_int64(q, 2);
    sq_done(q);
    q = NULL;

    audit_objects(c, out);
out:
    sq_done(q);
    return st;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .account_register = sq_account_register,
    .account_by_address = sq_account_by_address,
    .account_by_id = sq_account_by_id,
    .account_touch = sq_account_touch,
    .prekeys_add = sq_prekeys_add,
    .prekeys_count = sq_prekeys_count,
    .signed_prekey_set = sq_signed_prekey_set,
    .bundle_take = sq_bundle_take,
    .token_put = sq_token_put,
    .token_lookup = sq_token_lookup,
    .replay_put = sq_replay_put,
    .mail_put = sq_mail_put,
    .mail_fetch = sq_mail_fetch,
    .mail_ack = sq_mail_ack,
    .mail_pending = sq_mail_pending,
    .prune = sq_prune,
    .checkpoint = sq_checkpoint,
    .audit = sq_audit,
    .audit_detail = sq_audit_detail,
};
