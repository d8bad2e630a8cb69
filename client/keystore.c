/*
 * keystore.c: SQLite state of one agent and the libsignal store callbacks
 * (see keystore.h for the contracts). The only SDK file that speaks SQL.
 *
 * Prepared statements are cached per connection, keyed by the address of
 * the SQL string literal, and reset + unbound on every acquisition, so a
 * failed step never leaves a statement half-used for the next caller.
 */
#include "client/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "client/migrations.h"
#include "common/address.h"
#include "common/log.h"
#include "common/secmem.h"
#include "sealpost/sealpost.h"

#define KS_STMT_CACHE 64

struct ks_stmt {
    const char *sql; /* identity of the cached statement: a string literal */
    sqlite3_stmt *stmt;
};

struct keystore {
    sqlite3 *db;
    int lock_fd;
    const struct sp_clock *clock;
    int fail_outbox_insert;
    struct ks_stmt cache[KS_STMT_CACHE];
    size_t n_cache;
};

static sp_status ks_err(struct keystore *ks, int rc, const char *what)
{
    if (rc == SQLITE_NOMEM)
        return SP_ERR_NOMEM;
    /* The SQLite message names no secrets (no bound values), only the cause. */
    SP_LOG_W("keystore: %s: %s", what, ks != NULL && ks->db != NULL ? sqlite3_errmsg(ks->db) : "?");
    return SP_ERR_IO;
}

/* Acquire a cached statement for a string literal `sql`. */
static sp_status ks_prep(struct keystore *ks, const char *sql, sqlite3_stmt **out)
{
    for (size_t i = 0; i < ks->n_cache; i++) {
        if (ks->cache[i].sql == sql) {
            sqlite3_reset(ks->cache[i].stmt);
            sqlite3_clear_bindings(ks->cache[i].stmt);
            *out = ks->cache[i].stmt;
            return SP_OK;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(ks->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK)
        return ks_err(ks, rc, "prepare");
    if (ks->n_cache < KS_STMT_CACHE) {
        ks->cache[ks->n_cache].sql = sql;
        ks->cache[ks->n_cache].stmt = s;
        ks->n_cache++;
    } else {
        /* Cannot happen with the fixed set of statements below; stay correct anyway. */
        sqlite3_finalize(s);
        return SP_ERR_INTERNAL;
    }
    *out = s;
    return SP_OK;
}

/* Statements are reset after use so they hold no read transaction open and
 * no reference to bound (possibly secret) buffers. */
static void ks_done(sqlite3_stmt *s)
{
    if (s != NULL) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

/* Run a statement that returns no rows. */
static sp_status ks_step_done(struct keystore *ks, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sp_status st = SP_OK;
    if (rc != SQLITE_DONE)
        st = rc == SQLITE_CONSTRAINT ? SP_ERR_CONFLICT : ks_err(ks, rc, what);
    ks_done(s);
    return st;
}

static sp_status ks_exec(struct keystore *ks, const char *sql)
{
    int rc = sqlite3_exec(ks->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SP_OK : ks_err(ks, rc, "exec");
}

uint64_t keystore_now(const struct keystore *ks)
{
    return sp_clock_now(ks->clock);
}

/* ------------------------------------------------------------------ open */

static sp_status ks_migrate(struct keystore *ks)
{
    sp_status st = SP_OK;
    sqlite3_stmt *s = NULL;
    int have = 0;
    bool in_tx = false;

    TRY(ks_exec(ks, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at INTEGER NOT NULL)"));
    TRY(ks_exec(ks, "BEGIN IMMEDIATE"));
    in_tx = true;
    TRY(keystore_schema_version(ks, &have));
    ENSURE(have <= client_migrations_count, SP_ERR_IO); /* state from a newer SDK */
    for (int i = have; i < client_migrations_count; i++) {
        const struct client_migration *m = &client_migrations[i];
        int rc = sqlite3_exec(ks->db, m->sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            st = ks_err(ks, rc, "migration");
            goto out;
        }
        TRY(ks_prep(ks, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)",
                    &s));
        sqlite3_bind_int(s, 1, m->version);
        sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)keystore_now(ks));
        TRY(ks_step_done(ks, s, "migration record"));
    }
    TRY(ks_exec(ks, "COMMIT"));
    in_tx = false;
    if (have < client_migrations_count)
        SP_LOG_I("keystore: schema migrated from %d to %d", have, client_migrations_count);
out:
    if (in_tx)
        (void)sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
    if (st == SP_ERR_CONFLICT)
        st = SP_ERR_IO;
    return st;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

sp_status keystore_open(struct keystore **out, const char *state_dir,
                        const struct sp_clock *clock)
{
    sp_status st = SP_OK;
    struct keystore *ks = NULL;
    char *lock_path = NULL, *db_path = NULL;
    int fd = -1;
    struct stat sb;

    *out = NULL;
    ENSURE(state_dir != NULL && *state_dir != '\0', SP_ERR_USAGE);
    ks = calloc(1, sizeof(*ks));
    ENSURE(ks != NULL, SP_ERR_NOMEM);
    ks->lock_fd = -1;
    ks->clock = clock != NULL ? clock : sp_clock_system();

    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        st = SP_ERR_IO;
        goto out;
    }
    ENSURE(stat(state_dir, &sb) == 0 && S_ISDIR(sb.st_mode), SP_ERR_IO);
    if ((sb.st_mode & 077) != 0 && sb.st_uid == geteuid())
        (void)chmod(state_dir, 0700); /* tighten a directory we own */

    lock_path = path_join(state_dir, KS_LOCK_FILE);
    db_path = path_join(state_dir, KS_STATE_FILE);
    ENSURE(lock_path != NULL && db_path != NULL, SP_ERR_NOMEM);

    ks->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    ENSURE(ks->lock_fd >= 0, SP_ERR_IO);
    if (flock(ks->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        SP_LOG_W("keystore: state directory is in use by another handle or process");
        st = SP_ERR_IO;
        goto out;
    }

    /* Create the file 0600 ourselves so SQLite never creates it with the umask;
     * its -wal and -shm files inherit this mode. */
    fd = open(db_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    ENSURE(fd >= 0, SP_ERR_IO);
    ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), SP_ERR_IO);
    if ((sb.st_mode & 0777) != 0600)
        ENSURE(fchmod(fd, 0600) == 0, SP_ERR_IO);
    close(fd);
    fd = -1;

    int rc = sqlite3_open_v2(db_path, &ks->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = ks_err(ks, rc, "open");
        goto out;
    }
    sqlite3_extended_result_codes(ks->db, 0);
    (void)sqlite3_busy_timeout(ks->db, 5000);
    TRY(ks_exec(ks, "PRAGMA journal_mode=WAL"));
    /* An acked message must survive power loss: fsync on every commit. */
    TRY(ks_exec(ks, "PRAGMA synchronous=FULL"));
    TRY(ks_exec(ks, "PRAGMA secure_delete=ON"));
    TRY(ks_exec(ks, "PRAGMA foreign_keys=ON"));
    TRY(ks_migrate(ks));

    *out = ks;
    ks = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(lock_path);
    free(db_path);
    keystore_close(ks);
    return st;
}

void keystore_close(struct keystore *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n_cache; i++)
        sqlite3_finalize(ks->cache[i].stmt);
    if (ks->db != NULL)
        sqlite3_close(ks->db);
    if (ks->lock_fd >= 0)
        close(ks->lock_fd); /* releases the flock */
    free(ks);
}

sp_status keystore_schema_version(struct keystore *ks, int *version)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &s);
    if (st != SP_OK)
        return st;
    if (sqlite3_step(s) == SQLITE_ROW)
        *version = sqlite3_column_int(s, 0);
    else
        st = ks_err(ks, sqlite3_errcode(ks->db), "schema version");
    ks_done(s);
    return st;
}

/* ---------------------------------------------------------- transactions */

sp_status keystore_begin(struct keystore *ks)
{
    return ks_exec(ks, "BEGIN IMMEDIATE");
}

sp_status keystore_commit(struct keystore *ks)
{
    return ks_exec(ks, "COMMIT");
}

void keystore_rollback(struct keystore *ks)
{
    if (!sqlite3_get_autocommit(ks->db))
        (void)sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
}

sp_status keystore_savepoint(struct keystore *ks)
{
    return ks_exec(ks, "SAVEPOINT env");
}

sp_status keystore_release(struct keystore *ks)
{
    return ks_exec(ks, "RELEASE env");
}

void keystore_rollback_to(struct keystore *ks)
{
    (void)sqlite3_exec(ks->db, "ROLLBACK TO env; RELEASE env", NULL, NULL, NULL);
}

/* ------------------------------------------------------- small helpers */

/* A libsignal address name as a bindable text; names are our address texts
 * but the library passes (ptr, len), so never rely on a NUL. */
static void bind_name(sqlite3_stmt *s, int idx, const char *name, size_t len)
{
    sqlite3_bind_text(s, idx, name, (int)len, SQLITE_TRANSIENT);
}

static int blob_to_signal_buffer(sqlite3_stmt *s, int col, signal_buffer **out)
{
    const void *p = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    *out = signal_buffer_create(p, (size_t)n);
    return *out != NULL ? 0 : SG_ERR_NOMEM;
}

/* Run a bound "SELECT record, user_record ..." statement and finish it, with
 * the load_session / load_sender_key contract (LIBSIGNAL.md section 4):
 * 1 and fresh buffers when found, 0 and nothing set when not, < 0 on error. */
static int step_load_record(sqlite3_stmt *s, signal_buffer **record,
                            signal_buffer **user_record)
{
    int ret = 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        signal_buffer *rec = NULL, *urec = NULL;
        ret = blob_to_signal_buffer(s, 0, &rec);
        if (ret == 0 && sqlite3_column_type(s, 1) != SQLITE_NULL && user_record != NULL)
            ret = blob_to_signal_buffer(s, 1, &urec);
        if (ret == 0) {
            *record = rec;
            if (user_record != NULL)
                *user_record = urec;
            ret = 1;
        } else {
            signal_buffer_bzero_free(rec);
            signal_buffer_free(urec);
        }
    } else if (rc != SQLITE_DONE) {
        ret = SG_ERR_UNKNOWN;
    }
    ks_done(s);
    return ret;
}

static int count_query(struct keystore *ks, const char *sql, size_t *n)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, sql, &s);
    if (st != SP_OK)
        return st;
    if (sqlite3_step(s) == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(s, 0);
    else
        st = ks_err(ks, sqlite3_errcode(ks->db), "count");
    ks_done(s);
    return st;
}

/* ------------------------------------------------------ session store */

static int cb_load_session(signal_buffer **record, signal_buffer **user_record,
                           const signal_protocol_address *addr, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, "SELECT record, user_record FROM sessions WHERE name = ? AND device = ?", &s) !=
        SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    return step_load_record(s, record, user_record);
}

static int cb_get_sub_device_sessions(signal_int_list **sessions, const char *name,
                                      size_t name_len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    signal_int_list *list = signal_int_list_alloc();
    int count = 0, rc;
    if (list == NULL)
        return SG_ERR_NOMEM;
    if (ks_prep(ks, "SELECT device FROM sessions WHERE name = ? AND device <> 1", &s) != SP_OK) {
        signal_int_list_free(list);
        return SG_ERR_UNKNOWN;
    }
    bind_name(s, 1, name, name_len);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (signal_int_list_push_back(list, sqlite3_column_int(s, 0)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        count++;
    }
    ks_done(s);
    if (rc != SQLITE_DONE) {
        signal_int_list_free(list);
        return rc == SQLITE_NOMEM ? SG_ERR_NOMEM : SG_ERR_UNKNOWN;
    }
    *sessions = list;
    return count;
}

static int cb_store_session(const signal_protocol_address *addr, uint8_t *record,
                            size_t record_len, uint8_t *user_record, size_t user_record_len,
                            void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks,
                "INSERT INTO sessions(name, device, record, user_record) VALUES (?,?,?,?) "
                "ON CONFLICT(name, device) DO UPDATE SET record = excluded.record, "
                "user_record = excluded.user_record",
                &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    sqlite3_bind_blob(s, 3, record, (int)record_len, SQLITE_TRANSIENT);
    if (user_record != NULL)
        sqlite3_bind_blob(s, 4, user_record, (int)user_record_len, SQLITE_TRANSIENT);
    return ks_step_done(ks, s, "store session") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_contains_session(const signal_protocol_address *addr, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, "SELECT 1 FROM sessions WHERE name = ? AND device = ?", &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    int rc = sqlite3_step(s);
    ks_done(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : SG_ERR_UNKNOWN;
}

static int cb_delete_session(const signal_protocol_address *addr, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, "DELETE FROM sessions WHERE name = ? AND device = ?", &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    if (ks_step_done(ks, s, "delete session") != SP_OK)
        return SG_ERR_UNKNOWN;
    return sqlite3_changes(ks->db) > 0 ? 1 : 0;
}

static int cb_delete_all_sessions(const char *name, size_t name_len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, "DELETE FROM sessions WHERE name = ?", &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, name, name_len);
    if (ks_step_done(ks, s, "delete sessions") != SP_OK)
        return SG_ERR_UNKNOWN;
    return sqlite3_changes(ks->db);
}

/* ----------------------------------------------- pre key stores (both) */

static int load_key(struct keystore *ks, const char *sql, signal_buffer **record, uint32_t id)
{
    sqlite3_stmt *s = NULL;
    int ret;
    if (ks_prep(ks, sql, &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        ret = blob_to_signal_buffer(s, 0, record); /* SG_SUCCESS + *record */
    else if (rc == SQLITE_DONE)
        ret = SG_ERR_INVALID_KEY_ID; /* never 0 without a record: libsignal would crash */
    else
        ret = SG_ERR_UNKNOWN;
    ks_done(s);
    return ret;
}

static int exists_key(struct keystore *ks, const char *sql, uint32_t id)
{
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, sql, &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    ks_done(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : SG_ERR_UNKNOWN;
}

static int delete_key(struct keystore *ks, const char *sql, uint32_t id)
{
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, sql, &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(s, 1, id);
    /* Exactly 0 also when absent: the value becomes the decrypt result. */
    return ks_step_done(ks, s, "remove key") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_load_pre_key(signal_buffer **record, uint32_t id, void *ud)
{
    return load_key(ud, "SELECT record FROM prekeys WHERE id = ?", record, id);
}

static int cb_store_pre_key(uint32_t id, uint8_t *record, size_t len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks, "INSERT OR REPLACE INTO prekeys(id, record) VALUES (?,?)", &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_blob(s, 2, record, (int)len, SQLITE_TRANSIENT);
    return ks_step_done(ks, s, "store prekey") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_contains_pre_key(uint32_t id, void *ud)
{
    return exists_key(ud, "SELECT 1 FROM prekeys WHERE id = ?", id);
}

static int cb_remove_pre_key(uint32_t id, void *ud)
{
    return delete_key(ud, "DELETE FROM prekeys WHERE id = ?", id);
}

static int cb_load_signed_pre_key(signal_buffer **record, uint32_t id, void *ud)
{
    return load_key(ud, "SELECT record FROM signed_prekeys WHERE id = ?", record, id);
}

static int cb_store_signed_pre_key(uint32_t id, uint8_t *record, size_t len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks,
                "INSERT INTO signed_prekeys(id, record, created, retired) VALUES (?,?,?,NULL) "
                "ON CONFLICT(id) DO UPDATE SET record = excluded.record",
                &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_blob(s, 2, record, (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)keystore_now(ks));
    return ks_step_done(ks, s, "store signed prekey") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_contains_signed_pre_key(uint32_t id, void *ud)
{
    return exists_key(ud, "SELECT 1 FROM signed_prekeys WHERE id = ?", id);
}

static int cb_remove_signed_pre_key(uint32_t id, void *ud)
{
    return delete_key(ud, "DELETE FROM signed_prekeys WHERE id = ?", id);
}

/* ------------------------------------------------------ identity store */

static int cb_get_identity_key_pair(signal_buffer **public_data, signal_buffer **private_data,
                                    void *ud)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint32_t reg = 0;
    signal_buffer *p = NULL, *k = NULL;
    int ret = 0;
    sp_status st = keystore_identity_get(ud, pub, priv, &reg);
    if (st != SP_OK) {
        ret = st == SP_ERR_NOMEM ? SG_ERR_NOMEM : SG_ERR_UNKNOWN;
        goto out;
    }
    p = signal_buffer_create(pub, sizeof(pub));
    k = signal_buffer_create(priv, sizeof(priv));
    if (p == NULL || k == NULL) {
        signal_buffer_free(p);
        signal_buffer_bzero_free(k);
        ret = SG_ERR_NOMEM;
        goto out;
    }
    /* Both set, or neither: the library dereferences both unchecked. */
    *public_data = p;
    *private_data = k;
out:
    sp_wipe(priv, sizeof(priv));
    return ret;
}

static int cb_get_local_registration_id(void *ud, uint32_t *registration_id)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint32_t reg = 0;
    sp_status st = keystore_identity_get(ud, pub, priv, &reg);
    sp_wipe(priv, sizeof(priv));
    if (st != SP_OK)
        return SG_ERR_UNKNOWN;
    *registration_id = reg;
    return 0;
}

static int cb_save_identity(const signal_protocol_address *addr, uint8_t *key, size_t key_len,
                            void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (key == NULL) {
        if (ks_prep(ks, "DELETE FROM identities WHERE name = ? AND device = ?", &s) != SP_OK)
            return SG_ERR_UNKNOWN;
        bind_name(s, 1, addr->name, addr->name_len);
        sqlite3_bind_int(s, 2, addr->device_id);
        return ks_step_done(ks, s, "remove identity") == SP_OK ? 0 : SG_ERR_UNKNOWN;
    }
    if (key_len != SP_PUBKEY_LEN)
        return SG_ERR_INVALID_KEY;
    if (ks_prep(ks,
                "INSERT INTO identities(name, device, key, first_seen) VALUES (?,?,?,?) "
                "ON CONFLICT(name, device) DO UPDATE SET key = excluded.key",
                &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    sqlite3_bind_blob(s, 3, key, (int)key_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)keystore_now(ks));
    return ks_step_done(ks, s, "save identity") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_is_trusted_identity(const signal_protocol_address *addr, uint8_t *key,
                                  size_t key_len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    uint8_t raw[SP_ADDRESS_LEN];
    int ret;

    if (key == NULL || key_len != SP_PUBKEY_LEN)
        return 0;
    /* Self-certifying addresses: the key must hash to the name. A name that
     * is not an address never belongs to a legitimate peer. */
    if (sp_address_from_text(raw, addr->name, addr->name_len) != SP_OK ||
        !sp_address_matches(raw, key))
        return 0;
    if (ks_prep(ks, "SELECT key FROM identities WHERE name = ? AND device = ?", &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    bind_name(s, 1, addr->name, addr->name_len);
    sqlite3_bind_int(s, 2, addr->device_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        ret = 1; /* first use */
    } else if (rc == SQLITE_ROW) {
        ret = sqlite3_column_bytes(s, 0) == SP_PUBKEY_LEN &&
                      sp_ct_equal(sqlite3_column_blob(s, 0), key, SP_PUBKEY_LEN)
                  ? 1
                  : 0;
    } else {
        ret = SG_ERR_UNKNOWN;
    }
    ks_done(s);
    return ret;
}

/* ---------------------------------------------------- sender key store */

static int cb_store_sender_key(const signal_protocol_sender_key_name *n, uint8_t *record,
                               size_t len, uint8_t *user_record, size_t user_len, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks,
                "INSERT INTO sender_keys(group_id, name, device, record, user_record) "
                "VALUES (?,?,?,?,?) ON CONFLICT(group_id, name, device) DO UPDATE SET "
                "record = excluded.record, user_record = excluded.user_record",
                &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_blob(s, 1, n->group_id, (int)n->group_id_len, SQLITE_TRANSIENT);
    bind_name(s, 2, n->sender.name, n->sender.name_len);
    sqlite3_bind_int(s, 3, n->sender.device_id);
    sqlite3_bind_blob(s, 4, record, (int)len, SQLITE_TRANSIENT);
    if (user_record != NULL)
        sqlite3_bind_blob(s, 5, user_record, (int)user_len, SQLITE_TRANSIENT);
    return ks_step_done(ks, s, "store sender key") == SP_OK ? 0 : SG_ERR_UNKNOWN;
}

static int cb_load_sender_key(signal_buffer **record, signal_buffer **user_record,
                              const signal_protocol_sender_key_name *n, void *ud)
{
    struct keystore *ks = ud;
    sqlite3_stmt *s = NULL;
    if (ks_prep(ks,
                "SELECT record, user_record FROM sender_keys WHERE group_id = ? AND name = ? "
                "AND device = ?",
                &s) != SP_OK)
        return SG_ERR_UNKNOWN;
    sqlite3_bind_blob(s, 1, n->group_id, (int)n->group_id_len, SQLITE_TRANSIENT);
    bind_name(s, 2, n->sender.name, n->sender.name_len);
    sqlite3_bind_int(s, 3, n->sender.device_id);
    return step_load_record(s, record, user_record);
}

void keystore_fill_stores(struct keystore *ks, signal_protocol_session_store *sess,
                          signal_protocol_pre_key_store *pk,
                          signal_protocol_signed_pre_key_store *spk,
                          signal_protocol_identity_key_store *id,
                          signal_protocol_sender_key_store *sk)
{
    *sess = (signal_protocol_session_store){
        .load_session_func = cb_load_session,
        .get_sub_device_sessions_func = cb_get_sub_device_sessions,
        .store_session_func = cb_store_session,
        .contains_session_func = cb_contains_session,
        .delete_session_func = cb_delete_session,
        .delete_all_sessions_func = cb_delete_all_sessions,
        .destroy_func = NULL,
        .user_data = ks,
    };
    *pk = (signal_protocol_pre_key_store){
        .load_pre_key = cb_load_pre_key,
        .store_pre_key = cb_store_pre_key,
        .contains_pre_key = cb_contains_pre_key,
        .remove_pre_key = cb_remove_pre_key,
        .destroy_func = NULL,
        .user_data = ks,
    };
    *spk = (signal_protocol_signed_pre_key_store){
        .load_signed_pre_key = cb_load_signed_pre_key,
        .store_signed_pre_key = cb_store_signed_pre_key,
        .contains_signed_pre_key = cb_contains_signed_pre_key,
        .remove_signed_pre_key = cb_remove_signed_pre_key,
        .destroy_func = NULL,
        .user_data = ks,
    };
    *id = (signal_protocol_identity_key_store){
        .get_identity_key_pair = cb_get_identity_key_pair,
        .get_local_registration_id = cb_get_local_registration_id,
        .save_identity = cb_save_identity,
        .is_trusted_identity = cb_is_trusted_identity,
        .destroy_func = NULL,
        .user_data = ks,
    };
    *sk = (signal_protocol_sender_key_store){
        .store_sender_key = cb_store_sender_key,
        .load_sender_key = cb_load_sender_key,
        .destroy_func = NULL,
        .user_data = ks,
    };
}

sp_status keystore_install_stores(struct keystore *ks, signal_protocol_store_context *store)
{
    signal_protocol_session_store sess;
    signal_protocol_pre_key_store pk;
    signal_protocol_signed_pre_key_store spk;
    signal_protocol_identity_key_store id;
    signal_protocol_sender_key_store sk;
    keystore_fill_stores(ks, &sess, &pk, &spk, &id, &sk);
    if (signal_protocol_store_context_set_session_store(store, &sess) != 0 ||
        signal_protocol_store_context_set_pre_key_store(store, &pk) != 0 ||
        signal_protocol_store_context_set_signed_pre_key_store(store, &spk) != 0 ||
        signal_protocol_store_context_set_identity_key_store(store, &id) != 0 ||
        signal_protocol_store_context_set_sender_key_store(store, &sk) != 0)
        return SP_ERR_INTERNAL;
    return SP_OK;
}

/* ------------------------------------------------------ local identity */

sp_status keystore_identity_get(struct keystore *ks, uint8_t pub[static SP_PUBKEY_LEN],
                                uint8_t priv[static 32], uint32_t *registration_id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT pub, priv, registration_id FROM local_identity WHERE id = 1",
                           &s);
    if (st != SP_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == SP_PUBKEY_LEN &&
        sqlite3_column_bytes(s, 1) == 32) {
        memcpy(pub, sqlite3_column_blob(s, 0), SP_PUBKEY_LEN);
        memcpy(priv, sqlite3_column_blob(s, 1), 32);
        *registration_id = (uint32_t)sqlite3_column_int64(s, 2);
    } else if (rc == SQLITE_DONE) {
        st = SP_ERR_NOT_FOUND;
    } else {
        st = rc == SQLITE_ROW ? SP_ERR_IO : ks_err(ks, rc, "identity");
    }
    ks_done(s); /* also drops SQLite's copy of the row */
    return st;
}

sp_status keystore_identity_put(struct keystore *ks, const uint8_t pub[static SP_PUBKEY_LEN],
                                const uint8_t priv[static 32], uint32_t registration_id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(
        ks, "INSERT INTO local_identity(id, pub, priv, registration_id) VALUES (1,?,?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, pub, SP_PUBKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, priv, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, registration_id);
    return ks_step_done(ks, s, "identity put");
}

/* ------------------------------------------------------------ settings */

sp_status keystore_setting_get(struct keystore *ks, const char *key, char **out)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT value FROM settings WHERE key = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        *out = strdup(v != NULL ? (const char *)v : "");
        if (*out == NULL)
            st = SP_ERR_NOMEM;
    } else {
        st = rc == SQLITE_DONE ? SP_ERR_NOT_FOUND : ks_err(ks, rc, "setting");
    }
    ks_done(s);
    return st;
}

sp_status keystore_setting_set(struct keystore *ks, const char *key, const char *value)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "INSERT OR REPLACE INTO settings(key, value) VALUES (?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    return ks_step_done(ks, s, "setting set");
}

sp_status keystore_setting_del(struct keystore *ks, const char *key)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "DELETE FROM settings WHERE key = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return ks_step_done(ks, s, "setting del");
}

sp_status keystore_setting_get_u64(struct keystore *ks, const char *key, uint64_t dflt,
                                   uint64_t *out)
{
    char *v = NULL, *end = NULL;
    sp_status st = keystore_setting_get(ks, key, &v);
    if (st == SP_ERR_NOT_FOUND) {
        *out = dflt;
        return SP_OK;
    }
    if (st != SP_OK)
        return st;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    *out = (errno == 0 && end != v && *end == '\0') ? (uint64_t)n : dflt;
    free(v);
    return SP_OK;
}

sp_status keystore_setting_set_u64(struct keystore *ks, const char *key, uint64_t value)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)value);
    return keystore_setting_set(ks, key, tmp);
}

/* ------------------------------------------------- peers, sessions, keys */

sp_status keystore_peer_identity(struct keystore *ks, const char *name,
                                 uint8_t key[static SP_PUBKEY_LEN])
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT key FROM identities WHERE name = ? AND device = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, SP_DEVICE_ID);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == SP_PUBKEY_LEN)
        memcpy(key, sqlite3_column_blob(s, 0), SP_PUBKEY_LEN);
    else if (rc == SQLITE_DONE)
        st = SP_ERR_NOT_FOUND;
    else
        st = rc == SQLITE_ROW ? SP_ERR_IO : ks_err(ks, rc, "peer identity");
    ks_done(s);
    return st;
}

sp_status keystore_session_count(struct keystore *ks, size_t *n)
{
    return count_query(ks, "SELECT COUNT(*) FROM sessions", n);
}

sp_status keystore_prekey_count(struct keystore *ks, size_t *n)
{
    return count_query(ks, "SELECT COUNT(*) FROM prekeys", n);
}

sp_status keystore_prekey_first_id(struct keystore *ks, uint32_t *id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT MIN(id) FROM prekeys", &s);
    if (st != SP_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *id = (uint32_t)sqlite3_column_int64(s, 0);
    else
        st = rc == SQLITE_ROW ? SP_ERR_NOT_FOUND : ks_err(ks, rc, "prekey first");
    ks_done(s);
    return st;
}

sp_status keystore_spk_retire_others(struct keystore *ks, uint32_t current_id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(
        ks, "UPDATE signed_prekeys SET retired = ? WHERE id <> ? AND retired IS NULL", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)keystore_now(ks));
    sqlite3_bind_int64(s, 2, current_id);
    return ks_step_done(ks, s, "retire spk");
}

sp_status keystore_spk_prune(struct keystore *ks, uint64_t before, size_t *n)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(
        ks, "DELETE FROM signed_prekeys WHERE retired IS NOT NULL AND retired < ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)before);
    st = ks_step_done(ks, s, "prune spk");
    if (st == SP_OK && n != NULL)
        *n = (size_t)sqlite3_changes(ks->db);
    return st;
}

sp_status keystore_spk_created(struct keystore *ks, uint32_t id, uint64_t *created)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "SELECT created FROM signed_prekeys WHERE id = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *created = (uint64_t)sqlite3_column_int64(s, 0);
    else
        st = rc == SQLITE_DONE ? SP_ERR_NOT_FOUND : ks_err(ks, rc, "spk created");
    ks_done(s);
    return st;
}

/* -------------------------------------------------------- inbox / seen */

sp_status keystore_inbox_insert(struct keystore *ks,
                                const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                const char *sender, const uint8_t *body, size_t len)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(
        ks, "INSERT INTO inbox(message_id, sender, received_at, body) VALUES (?,?,?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, message_id, SP_MESSAGE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)keystore_now(ks));
    /* zeroblob-safe: an empty message is a valid message */
    sqlite3_bind_blob(s, 4, len > 0 ? (const void *)body : (const void *)"", (int)len,
                      SQLITE_STATIC);
    st = ks_step_done(ks, s, "inbox insert");
    return st == SP_ERR_CONFLICT ? SP_ERR_DUPLICATE : st;
}

static sp_status row_to_message(sqlite3_stmt *s, struct sealpost_message **out)
{
    struct sealpost_message *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return SP_ERR_NOMEM;
    m->id = sqlite3_column_int64(s, 0);
    const void *mid = sqlite3_column_blob(s, 1);
    if (sqlite3_column_bytes(s, 1) == SP_MESSAGE_ID_LEN)
        memcpy(m->message_id, mid, SP_MESSAGE_ID_LEN);
    const unsigned char *snd = sqlite3_column_text(s, 2);
    if (snd != NULL)
        snprintf(m->sender, sizeof(m->sender), "%s", (const char *)snd);
    m->received_at = sqlite3_column_int64(s, 3);
    const void *body = sqlite3_column_blob(s, 4);
    m->body_len = (size_t)sqlite3_column_bytes(s, 4);
    m->body = malloc(m->body_len + 1); /* +1: never malloc(0); NUL for convenience */
    if (m->body == NULL) {
        free(m);
        return SP_ERR_NOMEM;
    }
    if (m->body_len > 0)
        memcpy(m->body, body, m->body_len);
    m->body[m->body_len] = 0;
    *out = m;
    return SP_OK;
}

sp_status keystore_inbox_list(struct keystore *ks, int64_t after_id, size_t max,
                              struct sealpost_message ***out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    struct sealpost_message **v = NULL;
    size_t count = 0;
    int rc = SQLITE_DONE;
    sp_status st = SP_OK;

    if (max > 10000)
        max = 10000;
    v = calloc(max > 0 ? max : 1, sizeof(*v));
    ENSURE(v != NULL, SP_ERR_NOMEM);
    TRY(ks_prep(ks,
                "SELECT id, message_id, sender, received_at, body FROM inbox WHERE id > ? "
                "ORDER BY id LIMIT ?",
                &s));
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    while (count < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        TRY(row_to_message(s, &v[count]));
        count++;
    }
    if (count < max && rc != SQLITE_DONE) {
        st = ks_err(ks, rc, "inbox list");
        goto out;
    }
    *out = v;
    *n = count;
    v = NULL;
out:
    ks_done(s);
    if (v != NULL)
        sealpost_messages_free(v, count);
    return st;
}

sp_status keystore_inbox_done(struct keystore *ks, int64_t id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "DELETE FROM inbox WHERE id = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    return ks_step_done(ks, s, "inbox done");
}

sp_status keystore_inbox_count(struct keystore *ks, size_t *n)
{
    return count_query(ks, "SELECT COUNT(*) FROM inbox", n);
}

sp_status keystore_seen_has(struct keystore *ks, const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                            bool *seen)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks,
                           "SELECT 1 FROM seen WHERE message_id = ?1 UNION ALL "
                           "SELECT 1 FROM inbox WHERE message_id = ?1 LIMIT 1",
                           &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, message_id, SP_MESSAGE_ID_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        *seen = rc == SQLITE_ROW;
    else
        st = ks_err(ks, rc, "seen");
    ks_done(s);
    return st;
}

sp_status keystore_seen_add(struct keystore *ks, const uint8_t message_id[static SP_MESSAGE_ID_LEN])
{
    sqlite3_stmt *s = NULL;
    sp_status st =
        ks_prep(ks, "INSERT OR IGNORE INTO seen(message_id, seen_hour) VALUES (?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, message_id, SP_MESSAGE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(keystore_now(ks) / 3600));
    return ks_step_done(ks, s, "seen add");
}

sp_status keystore_seen_prune(struct keystore *ks, uint64_t max_age_s)
{
    sqlite3_stmt *s = NULL;
    uint64_t now_h = keystore_now(ks) / 3600, age_h = max_age_s / 3600;
    sp_status st = ks_prep(ks, "DELETE FROM seen WHERE seen_hour < ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)(now_h > age_h ? now_h - age_h : 0));
    return ks_step_done(ks, s, "seen prune");
}

/* --------------------------------------------------------------- outbox */

sp_status keystore_outbox_insert(struct keystore *ks,
                                 const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                 const char *recipient, const uint8_t *content, size_t len)
{
    sqlite3_stmt *s = NULL;
    if (ks->fail_outbox_insert) {
        ks->fail_outbox_insert = 0;
        return SP_ERR_IO;
    }
    sp_status st = ks_prep(
        ks, "INSERT INTO outbox(message_id, recipient, content, created) VALUES (?,?,?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, message_id, SP_MESSAGE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, content, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)keystore_now(ks));
    return ks_step_done(ks, s, "outbox insert");
}

void keystore_outbox_free(struct ks_outbox_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(items[i].content);
    free(items);
}

sp_status keystore_outbox_load(struct keystore *ks, int64_t after_id, size_t max,
                               struct ks_outbox_item **items, size_t *n)
{
    sqlite3_stmt *s = NULL;
    struct ks_outbox_item *v = NULL;
    size_t count = 0;
    int rc = SQLITE_DONE;
    sp_status st = SP_OK;

    *items = NULL;
    *n = 0;
    v = calloc(max > 0 ? max : 1, sizeof(*v));
    ENSURE(v != NULL, SP_ERR_NOMEM);
    TRY(ks_prep(ks,
                "SELECT id, message_id, recipient, content FROM outbox WHERE id > ? "
                "ORDER BY id LIMIT ?",
                &s));
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    while (count < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ks_outbox_item *it = &v[count];
        const unsigned char *rcpt = sqlite3_column_text(s, 2);
        it->id = sqlite3_column_int64(s, 0);
        ENSURE(sqlite3_column_bytes(s, 1) == SP_MESSAGE_ID_LEN && rcpt != NULL, SP_ERR_IO);
        memcpy(it->message_id, sqlite3_column_blob(s, 1), SP_MESSAGE_ID_LEN);
        TRY(sp_address_from_text(it->recipient, (const char *)rcpt, strlen((const char *)rcpt)));
        it->content_len = (size_t)sqlite3_column_bytes(s, 3);
        it->content = malloc(it->content_len > 0 ? it->content_len : 1);
        ENSURE(it->content != NULL, SP_ERR_NOMEM);
        memcpy(it->content, sqlite3_column_blob(s, 3), it->content_len);
        count++;
    }
    if (count < max && rc != SQLITE_DONE) {
        st = ks_err(ks, rc, "outbox load");
        goto out;
    }
    *items = v;
    *n = count;
    v = NULL;
out:
    ks_done(s);
    if (v != NULL)
        keystore_outbox_free(v, count + 1);
    return st;
}

sp_status keystore_outbox_delete(struct keystore *ks, const int64_t *ids, size_t n)
{
    sqlite3_stmt *s = NULL;
    sp_status st = SP_OK;
    for (size_t i = 0; i < n && st == SP_OK; i++) {
        st = ks_prep(ks, "DELETE FROM outbox WHERE id = ?", &s);
        if (st != SP_OK)
            break;
        sqlite3_bind_int64(s, 1, ids[i]);
        st = ks_step_done(ks, s, "outbox delete");
    }
    return st;
}

sp_status keystore_outbox_count(struct keystore *ks, size_t *n)
{
    return count_query(ks, "SELECT COUNT(*) FROM outbox", n);
}

/* -------------------------------------------------------------- pending */

sp_status keystore_pending_insert(struct keystore *ks,
                                  const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                                  const char *recipient, const uint8_t *body, size_t len)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(
        ks, "INSERT INTO pending(message_id, recipient, body, created) VALUES (?,?,?,?)", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_blob(s, 1, message_id, SP_MESSAGE_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, len > 0 ? (const void *)body : (const void *)"", (int)len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)keystore_now(ks));
    return ks_step_done(ks, s, "pending insert");
}

void keystore_pending_free(struct ks_pending_item *it)
{
    if (it == NULL)
        return;
    sp_free_secret(it->body, it->body_len);
    it->body = NULL;
    it->body_len = 0;
}

sp_status keystore_pending_next(struct keystore *ks, int64_t after_id, struct ks_pending_item *out)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks,
                           "SELECT id, message_id, recipient, body FROM pending WHERE id > ? "
                           "ORDER BY id LIMIT 1",
                           &s);
    if (st != SP_OK)
        return st;
    memset(out, 0, sizeof(*out));
    sqlite3_bind_int64(s, 1, after_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *r = sqlite3_column_text(s, 2);
        out->id = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) != SP_MESSAGE_ID_LEN || r == NULL ||
            strlen((const char *)r) != SP_ADDRESS_TEXT_LEN) {
            st = SP_ERR_IO;
        } else {
            memcpy(out->message_id, sqlite3_column_blob(s, 1), SP_MESSAGE_ID_LEN);
            memcpy(out->recipient, r, SP_ADDRESS_TEXT_LEN + 1);
            out->body_len = (size_t)sqlite3_column_bytes(s, 3);
            out->body = malloc(out->body_len > 0 ? out->body_len : 1);
            if (out->body == NULL)
                st = SP_ERR_NOMEM;
            else if (out->body_len > 0)
                memcpy(out->body, sqlite3_column_blob(s, 3), out->body_len);
        }
    } else {
        st = rc == SQLITE_DONE ? SP_ERR_NOT_FOUND : ks_err(ks, rc, "pending next");
    }
    ks_done(s);
    return st;
}

sp_status keystore_pending_delete(struct keystore *ks, int64_t id)
{
    sqlite3_stmt *s = NULL;
    sp_status st = ks_prep(ks, "DELETE FROM pending WHERE id = ?", &s);
    if (st != SP_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    return ks_step_done(ks, s, "pending delete");
}

sp_status keystore_pending_count(struct keystore *ks, size_t *n)
{
    return count_query(ks, "SELECT COUNT(*) FROM pending", n);
}

void keystore_test_fail_outbox_insert(struct keystore *ks, int fail)
{
    ks->fail_outbox_insert = fail;
}
