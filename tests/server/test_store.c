/*
 * test_store.c: the relay store (server/store/) against real SQLite files
 * with every embedded migration applied: open/migrate/file modes, accounts,
 * prekeys (exactly-once, also under concurrency), signed prekeys, tokens,
 * replay records, mail with quotas and paging, and job savepoints.
 *
 * Raw sqlite3 is used only to look at (or tamper with) the file from the
 * outside, the way an operator or an attacker with a copy would.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/store/store.h"
#include "server/store/store_backend.h"
#include "testutil.h"

#define T0 ((uint64_t)1700000000) /* a fixed "now"; not hour aligned on purpose */

struct fx {
    char *dir;
    char *path;
    struct store *s;
    struct store_conn *c;
};

static void fx_open_pool(struct fx *f, const char *tag, unsigned pool)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_tmpdir(tag);
    f->path = tu_path(f->dir, "relay.db");
    struct store_options o = {.path = f->path, .sync = STORE_SYNC_FULL, .pool_size = pool,
                              .busy_timeout_ms = 5000};
    ck_assert_int_eq(store_open(&f->s, &o), SP_OK);
    ck_assert_int_eq(store_conn_get(f->s, &f->c), SP_OK);
}

static void fx_open(struct fx *f, const char *tag)
{
    fx_open_pool(f, tag, 2);
}

static void fx_close(struct fx *f)
{
    if (f->c != NULL)
        store_conn_put(f->s, f->c);
    store_close(f->s);
    tu_rmtree(f->dir);
    free(f->path);
    free(f->dir);
}

static sp_status reopen(struct fx *f)
{
    store_conn_put(f->s, f->c);
    f->c = NULL;
    store_close(f->s);
    f->s = NULL;
    struct store_options o = {.path = f->path, .pool_size = 2};
    sp_status st = store_open(&f->s, &o);
    if (st == SP_OK)
        ck_assert_int_eq(store_conn_get(f->s, &f->c), SP_OK);
    return st;
}

/* ---- raw views of the file */

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    sqlite3_close(db);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    uint8_t *p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static unsigned file_mode(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

/* ---- builders */

static void make_prekey(struct wire_prekey *pk, uint32_t id, uint8_t salt)
{
    pk->id = id;
    pk->public_key[0] = SP_PUBKEY_TYPE;
    for (size_t i = 1; i < SP_PUBKEY_LEN; i++)
        pk->public_key[i] = (uint8_t)(id * 7 + i + salt);
}

/* An account `seed` with signed prekey 1 and prekeys first..first+n-1. */
static void make_reg(struct wire_register *r, uint8_t address[SP_ADDRESS_LEN], uint8_t seed,
                     uint32_t first, size_t n)
{
    memset(r, 0, sizeof *r);
    r->identity_key[0] = SP_PUBKEY_TYPE;
    memset(r->identity_key + 1, seed, SP_PUBKEY_LEN - 1);
    r->registration_id = 1000u + seed;
    r->device_id = SP_DEVICE_ID;
    r->signed_prekey.id = 1;
    r->signed_prekey.public_key[0] = SP_PUBKEY_TYPE;
    memset(r->signed_prekey.public_key + 1, seed ^ 0x55, SP_PUBKEY_LEN - 1);
    memset(r->signed_prekey.signature, seed ^ 0xAA, SP_SIGNATURE_LEN);
    r->n_prekeys = n;
    for (size_t i = 0; i < n; i++)
        make_prekey(&r->prekeys[i], first + (uint32_t)i, seed);
    memset(address, seed, SP_ADDRESS_LEN);
}

static int64_t new_account(struct fx *f, uint8_t seed, size_t n_prekeys)
{
    struct wire_register r;
    uint8_t addr[SP_ADDRESS_LEN];
    bool created = false;
    int64_t id = 0;
    make_reg(&r, addr, seed, 1, n_prekeys);
    ck_assert_int_eq(store_begin(f->c), SP_OK);
    ck_assert_int_eq(store_account_register(f->c, &r, addr, T0, 1000, &created, &id), SP_OK);
    ck_assert_int_eq(store_commit(f->c), SP_OK);
    ck_assert(created);
    return id;
}

static uint32_t prekey_count(struct fx *f, int64_t id)
{
    uint32_t n = 0;
    ck_assert_int_eq(store_prekeys_count(f->c, id, &n), SP_OK);
    return n;
}

/* A sealed-looking envelope of `len` bytes whose bytes depend on `tag`. */
static uint8_t *make_content(size_t len, uint8_t tag)
{
    uint8_t *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    p[0] = SP_SEAL_VERSION;
    for (size_t i = 1; i < len; i++)
        p[i] = (uint8_t)(tag + i);
    return p;
}

static void make_id(uint8_t id[SP_MESSAGE_ID_LEN], uint8_t tag)
{
    memset(id, 0, SP_MESSAGE_ID_LEN);
    id[0] = 0xA5;
    id[15] = tag;
}

static sp_status put_mail(struct fx *f, int64_t to, uint8_t tag, size_t len,
                          const struct sp_limits *lim, bool *dup)
{
    uint8_t id[SP_MESSAGE_ID_LEN];
    uint8_t *content = make_content(len, tag);
    make_id(id, tag);
    ck_assert_int_eq(store_begin(f->c), SP_OK);
    sp_status st = store_mail_put(f->c, to, id, content, len, T0, lim, dup);
    if (st == SP_OK)
        ck_assert_int_eq(store_commit(f->c), SP_OK);
    else
        store_rollback(f->c);
    free(content);
    return st;
}

/* ==== open, migrations, file modes */

START_TEST(test_open_creates_private_wal_file)
{
    struct fx f;
    mode_t old = umask(0); /* the store must not rely on the umask */
    fx_open(&f, "store-open");
    umask(old);

    ck_assert_uint_eq(file_mode(f.path), 0600);
    char *wal = tu_path(f.dir, "relay.db-wal");
    char *shm = tu_path(f.dir, "relay.db-shm");
    ck_assert_int_eq(access(wal, F_OK), 0);
    ck_assert_uint_eq(file_mode(wal), 0600);
    ck_assert_uint_eq(file_mode(shm), 0600);

    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open_v2(f.path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);

    ck_assert_int_eq(store_schema_version(f.s), store_schema_latest());
    ck_assert_int_ge(store_schema_latest(), 1);
    free(wal);
    free(shm);
    fx_close(&f);
}
END_TEST

START_TEST(test_open_tightens_existing_file_mode)
{
    char *dir = tu_tmpdir("store-mode");
    char *path = tu_path(dir, "relay.db");
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    ck_assert_int_eq(chmod(path, 0644), 0);
    struct store *s = NULL;
    struct store_options o = {.path = path, .pool_size = 2};
    ck_assert_int_eq(store_open(&s, &o), SP_OK);
    ck_assert_uint_eq(file_mode(path), 0600);
    store_close(s);
    tu_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_open_bad_paths)
{
    char *dir = tu_tmpdir("store-bad");
    struct store *s = NULL;
    char *missing = tu_path(dir, "no/such/dir/relay.db");
    struct store_options o = {.path = missing, .pool_size = 2};
    ck_assert_int_eq(store_open(&s, &o), SP_ERR_IO);
    ck_assert_ptr_null(s);

    o.path = dir; /* a directory */
    ck_assert_int_eq(store_open(&s, &o), SP_ERR_IO);
    ck_assert_ptr_null(s);

    char *junk = tu_path(dir, "junk.db"); /* not a database */
    FILE *fp = fopen(junk, "wb");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 4096; i++)
        fputc(i * 31, fp);
    fclose(fp);
    o.path = junk;
    ck_assert_int_eq(store_open(&s, &o), SP_ERR_IO);
    ck_assert_ptr_null(s);

    o.path = NULL;
    ck_assert_int_eq(store_open(&s, &o), SP_ERR_USAGE);
    o.path = "";
    ck_assert_int_eq(store_open(&s, &o), SP_ERR_USAGE);
    store_close(NULL); /* NULL-safe */
    tu_rmtree(dir);
    free(junk);
    free(missing);
    free(dir);
}
END_TEST

START_TEST(test_reopen_keeps_data_and_records_versions)
{
    struct fx f;
    fx_open(&f, "store-reopen");
    int64_t id = new_account(&f, 7, 5);
    ck_assert_int_eq(reopen(&f), SP_OK);

    struct store_account a;
    uint8_t addr[SP_ADDRESS_LEN];
    memset(addr, 7, sizeof addr);
    ck_assert_int_eq(store_account_by_address(f.c, addr, &a), SP_OK);
    ck_assert_int_eq(a.id, id);
    ck_assert_uint_eq(prekey_count(&f, id), 5);
    ck_assert_int_eq(store_schema_version(f.s), store_schema_latest());

    /* one row per migration, each applied once, at hour precision */
    int latest = store_schema_latest();
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM schema_migrations"), latest);
    ck_assert_int_eq(raw_int(f.path, "SELECT max(version) FROM schema_migrations"), latest);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM schema_migrations"
                                     " WHERE applied_hour % 3600 != 0"),
                     0);
    fx_close(&f);
}
END_TEST

START_TEST(test_newer_schema_is_refused_unchanged)
{
    struct fx f;
    fx_open(&f, "store-newer");
    (void)new_account(&f, 3, 2);
    store_conn_put(f.s, f.c);
    f.c = NULL;
    store_close(f.s);
    f.s = NULL;

    raw_exec(f.path, "INSERT INTO schema_migrations (version, applied_hour) VALUES (9999, 0)");
    size_t len_before = 0, len_after = 0;
    uint8_t *before = read_file(f.path, &len_before);

    struct store_options o = {.path = f.path, .pool_size = 2};
    ck_assert_int_eq(store_open(&f.s, &o), SP_ERR_IO);
    ck_assert_ptr_null(f.s);

    uint8_t *after = read_file(f.path, &len_after);
    ck_assert_uint_eq(len_before, len_after);
    ck_assert(memcmp(before, after, len_before) == 0);
    ck_assert_int_eq(raw_int(f.path, "SELECT max(version) FROM schema_migrations"), 9999);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM accounts"), 1);
    free(before);
    free(after);
    fx_close(&f);
}
END_TEST

/* Deleted ciphertext must not linger in the file (secure_delete + WAL
 * checkpoint on close). The first half proves the scan can find it. */
START_TEST(test_secure_delete_erases_acked_mail)
{
    struct fx f;
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    fx_open(&f, "store-erase");
    int64_t to = new_account(&f, 9, 0);

    static const char marker[] = "SEALPOST-TEST-MARKER-0123456789";
    size_t len = SP_SEAL_OVERHEAD + 512;
    uint8_t *content = calloc(1, len);
    ck_assert_ptr_nonnull(content);
    content[0] = SP_SEAL_VERSION;
    for (size_t off = 1; off + sizeof marker < len; off += sizeof marker)
        memcpy(content + off, marker, sizeof marker - 1);
    uint8_t id[SP_MESSAGE_ID_LEN];
    bool dup = false;
    make_id(id, 1);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, len, T0, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    ck_assert_int_eq(reopen(&f), SP_OK); /* close checkpoints into the main file */
    size_t n = 0;
    uint8_t *bytes = read_file(f.path, &n);
    ck_assert_ptr_nonnull(memmem(bytes, n, marker, sizeof marker - 1));
    free(bytes);

    uint32_t deleted = 0;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_mail_ack(f.c, to, (const uint8_t(*)[SP_MESSAGE_ID_LEN])&id, 1,
                                    &deleted),
                     SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(deleted, 1);
    ck_assert_int_eq(reopen(&f), SP_OK);
    bytes = read_file(f.path, &n);
    ck_assert_ptr_null(memmem(bytes, n, marker, sizeof marker - 1));
    free(bytes);
    free(content);
    fx_close(&f);
}
END_TEST

/* ==== accounts */

START_TEST(test_register_create_and_idempotent)
{
    struct fx f;
    fx_open(&f, "store-reg");
    struct wire_register r;
    uint8_t addr[SP_ADDRESS_LEN];
    bool created = false;
    int64_t id = 0, id2 = 0;
    make_reg(&r, addr, 4, 1, 3);

    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r, addr, T0, 100, &created, &id), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert(created);
    ck_assert_int_gt(id, 0);

    struct store_account a;
    ck_assert_int_eq(store_account_by_address(f.c, addr, &a), SP_OK);
    ck_assert_int_eq(a.id, id);
    ck_assert_mem_eq(a.identity_key, r.identity_key, SP_PUBKEY_LEN);
    ck_assert_mem_eq(a.address, addr, SP_ADDRESS_LEN);
    ck_assert_uint_eq(a.registration_id, r.registration_id);
    ck_assert_uint_eq(a.device_id, SP_DEVICE_ID);
    memset(&a, 0, sizeof a);
    ck_assert_int_eq(store_account_by_id(f.c, id, &a), SP_OK);
    ck_assert_mem_eq(a.address, addr, SP_ADDRESS_LEN);
    ck_assert_int_eq(raw_int(f.path, "SELECT created_hour FROM accounts"), store_hour(T0));
    ck_assert_int_eq(raw_int(f.path, "SELECT active_hour FROM accounts"), store_hour(T0));

    /* again, same identity, two more prekeys (one overlapping): same account */
    struct wire_register r2;
    make_reg(&r2, addr, 4, 3, 3); /* ids 3,4,5; 3 already stored with the same bytes */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r2, addr, T0 + 7200, 100, &created, &id2),
                     SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert(!created);
    ck_assert_int_eq(id2, id);
    ck_assert_uint_eq(prekey_count(&f, id), 5);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM accounts"), 1);
    ck_assert_int_eq(raw_int(f.path, "SELECT active_hour FROM accounts"),
                     store_hour(T0 + 7200));
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 1);

    /* unknown lookups */
    uint8_t other[SP_ADDRESS_LEN];
    memset(other, 0xEE, sizeof other);
    ck_assert_int_eq(store_account_by_address(f.c, other, &a), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_account_by_id(f.c, id + 100, &a), SP_ERR_NOT_FOUND);
    fx_close(&f);
}
END_TEST

START_TEST(test_register_conflicts_change_nothing)
{
    struct fx f;
    fx_open(&f, "store-regconf");
    int64_t id = new_account(&f, 5, 3);
    struct wire_register r;
    uint8_t addr[SP_ADDRESS_LEN];
    bool created = true;
    int64_t got = -1;

    /* same address, another identity key */
    make_reg(&r, addr, 5, 10, 3);
    r.identity_key[5] ^= 1;
    r.registration_id = 42;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r, addr, T0, 100, &created, &got),
                     SP_ERR_CONFLICT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    /* same identity, but prekey id 2 re-used with other bytes (+ new ids) */
    make_reg(&r, addr, 5, 1, 4);
    r.registration_id = 43;
    r.prekeys[1].public_key[9] ^= 0xFF;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r, addr, T0, 100, &created, &got),
                     SP_ERR_CONFLICT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    /* same identity, a new signed prekey, but too many prekeys */
    make_reg(&r, addr, 5, 1, 6);
    r.signed_prekey.id = 2;
    r.registration_id = 44;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r, addr, T0, 5, &created, &got),
                     SP_ERR_PREKEY_LIMIT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    struct store_account a;
    ck_assert_int_eq(store_account_by_id(f.c, id, &a), SP_OK);
    ck_assert_uint_eq(a.registration_id, 1005);
    ck_assert_uint_eq(a.identity_key[5], 5);
    ck_assert_uint_eq(prekey_count(&f, id), 3);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 1);
    ck_assert_int_eq(raw_int(f.path, "SELECT key_id FROM signed_prekeys"
                                     " WHERE superseded_hour IS NULL"),
                     1);

    /* a new account over the prekey limit is not created at all */
    make_reg(&r, addr, 6, 1, 6);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_register(f.c, &r, addr, T0, 5, &created, &got),
                     SP_ERR_PREKEY_LIMIT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(store_account_by_address(f.c, addr, &a), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM accounts"), 1);
    fx_close(&f);
}
END_TEST

START_TEST(test_account_touch_moves_forward_only)
{
    struct fx f;
    fx_open(&f, "store-touch");
    int64_t id = new_account(&f, 2, 0);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_account_touch(f.c, id, T0 + 3 * 3600 + 5), SP_OK);
    ck_assert_int_eq(store_account_touch(f.c, id, T0), SP_OK); /* older: ignored */
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT active_hour FROM accounts"),
                     store_hour(T0 + 3 * 3600 + 5));
    fx_close(&f);
}
END_TEST

/* ==== prekeys */

START_TEST(test_prekeys_add_count_idempotent_conflict_limit)
{
    struct fx f;
    fx_open(&f, "store-prekeys");
    int64_t id = new_account(&f, 8, 0);
    struct wire_prekey pk[8];
    uint32_t after = 0;
    for (uint32_t i = 0; i < 8; i++)
        make_prekey(&pk[i], 100 + i, 8);

    ck_assert_uint_eq(prekey_count(&f, id), 0);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 4, 6, T0, &after), SP_OK);
    ck_assert_uint_eq(after, 4);
    /* the same upload again: no-op */
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 4, 6, T0, &after), SP_OK);
    ck_assert_uint_eq(after, 4);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(prekey_count(&f, id), 4);

    /* conflict in the last item: the new ones before it are not added */
    struct wire_prekey bad[3] = {pk[4], pk[5], pk[0]};
    bad[2].public_key[20] ^= 1;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, bad, 3, 100, T0, &after), SP_ERR_CONFLICT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(prekey_count(&f, id), 4);

    /* the same new id twice with different bytes inside one upload */
    struct wire_prekey twice[2] = {pk[6], pk[6]};
    twice[1].public_key[3] ^= 1;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, twice, 2, 100, T0, &after), SP_ERR_CONFLICT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(prekey_count(&f, id), 4);

    /* limit: 4 stored + 3 new > 6; repeats of stored ones do not count */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk + 4, 3, 6, T0, &after), SP_ERR_PREKEY_LIMIT);
    ck_assert_uint_eq(prekey_count(&f, id), 4);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 6, 6, T0, &after), SP_OK); /* exactly 6 */
    ck_assert_uint_eq(after, 6);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk + 6, 1, 6, T0, NULL), SP_ERR_PREKEY_LIMIT);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 0, 6, T0, &after), SP_OK);
    ck_assert_uint_eq(after, 6);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(prekey_count(&f, id), 6);

    /* unknown account */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id + 50, pk, 2, 6, T0, &after), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM prekeys"), 6);
    fx_close(&f);
}
END_TEST

/* ==== bundles */

START_TEST(test_bundle_take_oldest_first_exactly_once)
{
    struct fx f;
    fx_open(&f, "store-bundle");
    int64_t id = new_account(&f, 11, 0);
    /* upload order 50, 7, 30: oldest first means upload order, not id order */
    struct wire_prekey pk[3];
    make_prekey(&pk[0], 50, 11);
    make_prekey(&pk[1], 7, 11);
    make_prekey(&pk[2], 30, 11);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 3, 100, T0, NULL), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    struct wire_bundle b;
    static const uint32_t want[3] = {50, 7, 30};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(store_begin(f.c), SP_OK);
        ck_assert_int_eq(store_bundle_take(f.c, id, &b), SP_OK);
        ck_assert_int_eq(store_commit(f.c), SP_OK);
        ck_assert(b.has_prekey);
        ck_assert_uint_eq(b.prekey.id, want[i]);
        ck_assert_mem_eq(b.prekey.public_key, pk[i].public_key, SP_PUBKEY_LEN);
        ck_assert_uint_eq(b.registration_id, 1011);
        ck_assert_uint_eq(b.device_id, SP_DEVICE_ID);
        ck_assert_uint_eq(b.signed_prekey.id, 1);
        ck_assert_uint_eq(prekey_count(&f, id), (uint32_t)(2 - i));
    }
    /* exhausted: the bundle still has the identity and signed prekey */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_bundle_take(f.c, id, &b), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert(!b.has_prekey);
    ck_assert_uint_eq(b.signed_prekey.id, 1);
    ck_assert_uint_eq(b.identity_key[1], 11);

    /* a rolled-back take gives the key back */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, 1, 100, T0, NULL), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_bundle_take(f.c, id, &b), SP_OK);
    ck_assert(b.has_prekey);
    store_rollback(f.c);
    ck_assert_uint_eq(prekey_count(&f, id), 1);

    /* unknown target */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_bundle_take(f.c, id + 1, &b), SP_ERR_NOT_FOUND);
    store_rollback(f.c);
    fx_close(&f);
}
END_TEST

#define RACE_KEYS    200
#define RACE_THREADS 4

struct race {
    struct store *s;
    int64_t account;
    uint32_t got[RACE_KEYS + 1];
    size_t n;
    int errors;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    struct store_conn *c = NULL;
    if (store_conn_get(r->s, &c) != SP_OK) {
        r->errors++;
        return NULL;
    }
    for (;;) {
        struct wire_bundle b;
        sp_status st = store_begin(c);
        if (st == SP_ERR_UNAVAILABLE)
            continue;
        if (st != SP_OK) {
            r->errors++;
            break;
        }
        st = store_bundle_take(c, r->account, &b);
        if (st == SP_OK)
            st = store_commit(c);
        else
            store_rollback(c);
        if (st == SP_ERR_UNAVAILABLE)
            continue; /* nothing was handed out */
        if (st != SP_OK) {
            r->errors++;
            break;
        }
        if (!b.has_prekey)
            break;
        if (r->n > RACE_KEYS) {
            r->errors++;
            break;
        }
        r->got[r->n++] = b.prekey.id;
    }
    store_conn_put(r->s, c);
    return NULL;
}

START_TEST(test_bundle_take_concurrent_exactly_once)
{
    struct fx f;
    fx_open_pool(&f, "store-race", RACE_THREADS);
    int64_t id = new_account(&f, 12, 0);
    struct wire_prekey *pk = calloc(RACE_KEYS, sizeof *pk);
    ck_assert_ptr_nonnull(pk);
    for (uint32_t i = 0; i < RACE_KEYS; i++)
        make_prekey(&pk[i], i + 1, 12);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prekeys_add(f.c, id, pk, RACE_KEYS, 1000, T0, NULL), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    store_conn_put(f.s, f.c);
    f.c = NULL;

    static struct race r[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].s = f.s;
        r[i].account = id;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);

    unsigned seen[RACE_KEYS + 1] = {0};
    size_t total = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        ck_assert_int_eq(r[i].errors, 0);
        for (size_t k = 0; k < r[i].n; k++) {
            ck_assert_uint_ge(r[i].got[k], 1);
            ck_assert_uint_le(r[i].got[k], RACE_KEYS);
            seen[r[i].got[k]]++;
            /* each thread sees its keys in increasing upload order */
            if (k > 0)
                ck_assert_uint_gt(r[i].got[k], r[i].got[k - 1]);
        }
        total += r[i].n;
    }
    ck_assert_uint_eq(total, RACE_KEYS);
    for (uint32_t k = 1; k <= RACE_KEYS; k++)
        ck_assert_msg(seen[k] == 1, "prekey %u handed out %u times", k, seen[k]);
    ck_assert_int_eq(store_conn_get(f.s, &f.c), SP_OK);
    ck_assert_uint_eq(prekey_count(&f, id), 0);
    free(pk);
    fx_close(&f);
}
END_TEST

struct waiter {
    struct store *s;
    struct store_conn *c;
    volatile int done;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    if (store_conn_get(w->s, &w->c) == SP_OK)
        w->done = 1;
    return NULL;
}

START_TEST(test_pool_get_blocks_until_put)
{
    struct fx f;
    fx_open(&f, "store-pool"); /* pool of 2; f.c holds one */
    struct store_conn *second = NULL;
    ck_assert_int_eq(store_conn_get(f.s, &second), SP_OK);
    ck_assert_ptr_ne(second, f.c);

    struct waiter w = {.s = f.s};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
    usleep(200 * 1000);
    ck_assert_int_eq(w.done, 0); /* still blocked */
    store_conn_put(f.s, second);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(w.done, 1);
    ck_assert_ptr_eq(w.c, second);
    store_conn_put(f.s, w.c);
    fx_close(&f);
}
END_TEST

/* ==== signed prekeys */

START_TEST(test_signed_prekey_set_noop_conflict_supersede)
{
    struct fx f;
    fx_open(&f, "store-spk");
    int64_t id = new_account(&f, 13, 0);
    struct wire_register r;
    uint8_t addr[SP_ADDRESS_LEN];
    make_reg(&r, addr, 13, 1, 0);
    struct wire_signed_prekey spk1 = r.signed_prekey, spk2 = r.signed_prekey;
    spk2.id = 2;
    spk2.public_key[7] ^= 0x33;
    uint64_t later = T0 + 5 * 3600;
    struct wire_bundle b;

    ck_assert_int_eq(store_begin(f.c), SP_OK);
    /* same id, same key: no-op (also with another valid-looking signature) */
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &spk1, later), SP_OK);
    struct wire_signed_prekey resigned = spk1;
    resigned.signature[0] ^= 1;
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &resigned, later), SP_OK);
    /* same id, other key */
    struct wire_signed_prekey other = spk1;
    other.public_key[2] ^= 1;
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &other, later), SP_ERR_CONFLICT);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 1);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"
                                     " WHERE superseded_hour IS NOT NULL"),
                     0);

    /* rotation: 2 becomes current, 1 is kept as superseded at hour precision */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &spk2, later), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &spk2, later + 3600), SP_OK);
    ck_assert_int_eq(store_bundle_take(f.c, id, &b), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(b.signed_prekey.id, 2);
    ck_assert_mem_eq(b.signed_prekey.public_key, spk2.public_key, SP_PUBKEY_LEN);
    ck_assert_mem_eq(b.signed_prekey.signature, spk2.signature, SP_SIGNATURE_LEN);
    ck_assert_int_eq(raw_int(f.path, "SELECT superseded_hour FROM signed_prekeys"
                                     " WHERE key_id = 1"),
                     store_hour(later));
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"
                                     " WHERE superseded_hour IS NULL"),
                     1);

    /* going back to a superseded key is refused, and changes nothing */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(f.c, id, &spk1, later), SP_ERR_CONFLICT);
    ck_assert_int_eq(store_bundle_take(f.c, id, &b), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(b.signed_prekey.id, 2);

    /* unknown account */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(f.c, id + 9, &spk2, later), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 2);
    fx_close(&f);
}
END_TEST

/* ==== tokens and replay */

START_TEST(test_token_put_lookup_expiry)
{
    struct fx f;
    fx_open(&f, "store-token");
    int64_t id = new_account(&f, 14, 0);
    uint8_t h[32], h2[32];
    int64_t who = -1;
    memset(h, 0x42, sizeof h);
    memcpy(h2, h, sizeof h2);
    h2[31] ^= 1;
    uint64_t exp = store_hour_ceil(T0 + 3600);

    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_token_put(f.c, h, id, exp), SP_OK);
    ck_assert_int_eq(store_token_put(f.c, h2, id + 77, exp), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    ck_assert_int_eq(store_token_lookup(f.c, h, T0, &who), SP_OK);
    ck_assert_int_eq(who, id);
    ck_assert_int_eq(store_token_lookup(f.c, h, exp - 1, &who), SP_OK);
    ck_assert_int_eq(store_token_lookup(f.c, h, exp, &who), SP_ERR_UNAUTHENTICATED);
    ck_assert_int_eq(store_token_lookup(f.c, h, exp + 100000, &who), SP_ERR_UNAUTHENTICATED);
    ck_assert_int_eq(store_token_lookup(f.c, h2, T0, &who), SP_ERR_UNAUTHENTICATED);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM tokens"), 1);
    fx_close(&f);
}
END_TEST

START_TEST(test_replay_put_twice)
{
    struct fx f;
    fx_open(&f, "store-replay");
    uint8_t k1[32], k2[32];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, k1, store_hour_ceil(T0 + 300)), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, k1, store_hour_ceil(T0 + 300)), SP_ERR_REPLAY);
    ck_assert_int_eq(store_replay_put(f.c, k2, store_hour_ceil(T0 + 300)), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, k2, store_hour_ceil(T0 + 300)), SP_ERR_REPLAY);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM replay"), 2);
    fx_close(&f);
}
END_TEST

/* ==== mail */

static void check_counters(struct fx *f, int64_t id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT mail_count = (SELECT count(*) FROM mail WHERE"
                              " recipient_id = %lld) FROM accounts WHERE id = %lld",
             (long long)id, (long long)id);
    ck_assert_int_eq(raw_int(f->path, sql), 1);
    snprintf(sql, sizeof sql, "SELECT mail_bytes = (SELECT coalesce(sum(length(content)), 0)"
                              " FROM mail WHERE recipient_id = %lld) FROM accounts WHERE id = %lld",
             (long long)id, (long long)id);
    ck_assert_int_eq(raw_int(f->path, sql), 1);
}

START_TEST(test_mail_put_duplicate_and_quota)
{
    struct fx f;
    fx_open(&f, "store-mail");
    int64_t to = new_account(&f, 15, 0);
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    lim.mailbox_max_messages = 3;
    lim.mailbox_max_bytes = 1000;
    bool dup = true;
    uint32_t pending = 99;

    ck_assert_int_eq(put_mail(&f, to, 1, 300, &lim, &dup), SP_OK);
    ck_assert(!dup);
    ck_assert_int_eq(put_mail(&f, to, 1, 300, &lim, &dup), SP_OK);
    ck_assert(dup);
    ck_assert_int_eq(store_mail_pending(f.c, to, &pending), SP_OK);
    ck_assert_uint_eq(pending, 1);
    ck_assert_int_eq(raw_int(f.path, "SELECT received_hour FROM mail"), store_hour(T0));

    /* bytes: 300 + 300 + 400 = 1000 fits, one more byte does not */
    ck_assert_int_eq(put_mail(&f, to, 2, 300, &lim, &dup), SP_OK);
    ck_assert_int_eq(put_mail(&f, to, 3, 401, &lim, &dup), SP_ERR_MAILBOX_FULL);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_bytes FROM accounts"), 600);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_count FROM accounts"), 2);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 2);
    ck_assert_int_eq(put_mail(&f, to, 3, 400, &lim, &dup), SP_OK);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_bytes FROM accounts"), 1000);
    check_counters(&f, to);

    /* count: a fourth message does not fit even when bytes would */
    lim.mailbox_max_bytes = 100000;
    ck_assert_int_eq(put_mail(&f, to, 4, 100, &lim, &dup), SP_ERR_MAILBOX_FULL);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_count FROM accounts"), 3);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 3);
    check_counters(&f, to);
    /* a retry of a stored message is a duplicate, not a full mailbox */
    ck_assert_int_eq(put_mail(&f, to, 2, 300, &lim, &dup), SP_OK);
    ck_assert(dup);

    /* unknown recipient */
    ck_assert_int_eq(put_mail(&f, to + 5, 9, 300, &lim, &dup), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_mail_pending(f.c, to + 5, &pending), SP_OK); /* unknown: 0 */
    ck_assert_uint_eq(pending, 0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 3);
    fx_close(&f);
}
END_TEST

START_TEST(test_mail_fetch_paging_and_budget)
{
    struct fx f;
    fx_open(&f, "store-fetch");
    int64_t to = new_account(&f, 16, 0);
    int64_t other = new_account(&f, 17, 0);
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    bool dup = false;
    static const size_t sizes[5] = {305, 561, 305, 1073, 305};
    for (uint8_t i = 0; i < 5; i++)
        ck_assert_int_eq(put_mail(&f, to, (uint8_t)(i + 1), sizes[i], &lim, &dup), SP_OK);
    ck_assert_int_eq(put_mail(&f, other, 99, 305, &lim, &dup), SP_OK);

    struct store_mail_page p = {0};
    uint64_t cursor = 0;
    size_t seen = 0;
    /* pages of 2: 2, 2, 1 */
    for (int page = 0; page < 3; page++) {
        ck_assert_int_eq(store_mail_fetch(f.c, to, cursor, 2, SIZE_MAX, &p), SP_OK);
        ck_assert_uint_eq(p.n, page < 2 ? 2 : 1);
        ck_assert(p.more == (page < 2));
        for (size_t i = 0; i < p.n; i++) {
            uint8_t *want = make_content(sizes[seen], (uint8_t)(seen + 1));
            ck_assert_uint_eq(p.items[i].content_len, sizes[seen]);
            ck_assert_mem_eq(p.items[i].content, want, sizes[seen]);
            ck_assert_uint_eq(p.items[i].message_id[15], seen + 1);
            ck_assert_uint_eq(p.items[i].received_hour, store_hour(T0));
            ck_assert_uint_gt(p.items[i].seq, cursor);
            cursor = p.items[i].seq;
            free(want);
            seen++;
        }
        store_mail_page_free(&p);
    }
    ck_assert_uint_eq(seen, 5);
    ck_assert_int_eq(store_mail_fetch(f.c, to, cursor, 10, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 0);
    ck_assert(!p.more);
    store_mail_page_free(&p);

    /* byte budget: the first item always comes, even over budget */
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 10, 100, &p), SP_OK);
    ck_assert_uint_eq(p.n, 1);
    ck_assert(p.more);
    store_mail_page_free(&p);
    /* 305 + 561 = 866 fits in 866, the third does not */
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 10, 866, &p), SP_OK);
    ck_assert_uint_eq(p.n, 2);
    ck_assert(p.more);
    store_mail_page_free(&p);
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 10, 865, &p), SP_OK);
    ck_assert_uint_eq(p.n, 1);
    store_mail_page_free(&p);
    /* exactly the limit: more is false when nothing follows */
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 5, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 5);
    ck_assert(!p.more);
    store_mail_page_free(&p);
    store_mail_page_free(&p); /* idempotent */

    /* the other account sees only its own */
    ck_assert_int_eq(store_mail_fetch(f.c, other, 0, 10, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_uint_eq(p.items[0].message_id[15], 99);
    store_mail_page_free(&p);
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 0, SIZE_MAX, &p), SP_ERR_USAGE);
    store_mail_page_free(NULL);
    fx_close(&f);
}
END_TEST

START_TEST(test_mail_ack)
{
    struct fx f;
    fx_open(&f, "store-ack");
    int64_t to = new_account(&f, 18, 0);
    int64_t other = new_account(&f, 19, 0);
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    bool dup = false;
    for (uint8_t i = 1; i <= 4; i++)
        ck_assert_int_eq(put_mail(&f, to, i, 305 + i, &lim, &dup), SP_OK);
    ck_assert_int_eq(put_mail(&f, other, 1, 305, &lim, &dup), SP_OK);

    uint8_t ids[3][SP_MESSAGE_ID_LEN];
    make_id(ids[0], 1);
    make_id(ids[1], 77); /* unknown */
    make_id(ids[2], 4);
    uint32_t deleted = 99, pending = 0;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_mail_ack(f.c, to, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 3,
                                    &deleted),
                     SP_OK);
    ck_assert_uint_eq(deleted, 2);
    ck_assert_int_eq(store_mail_ack(f.c, to, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 3,
                                    &deleted),
                     SP_OK);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(store_mail_ack(f.c, to, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 0,
                                    &deleted),
                     SP_OK);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_int_eq(store_mail_pending(f.c, to, &pending), SP_OK);
    ck_assert_uint_eq(pending, 2);
    check_counters(&f, to);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_bytes FROM accounts WHERE address = "
                                     "x'1212121212121212121212121212121212121212'"),
                     (305 + 2) + (305 + 3));

    /* the other account's message with the same id is untouched by `to` */
    ck_assert_int_eq(store_mail_pending(f.c, other, &pending), SP_OK);
    ck_assert_uint_eq(pending, 1);

    /* seq is never reused: ack the newest, then store another */
    struct store_mail_page p = {0};
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 10, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 2);
    uint64_t newest = p.items[1].seq;
    store_mail_page_free(&p);
    make_id(ids[0], 3);
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_mail_ack(f.c, to, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 1,
                                    &deleted),
                     SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(deleted, 1);
    ck_assert_int_eq(put_mail(&f, to, 50, 305, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_mail_fetch(f.c, to, newest, 10, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_uint_eq(p.items[0].message_id[15], 50);
    store_mail_page_free(&p);
    check_counters(&f, to);
    fx_close(&f);
}
END_TEST

/* ==== job savepoints inside one group-commit transaction */

START_TEST(test_savepoint_rollback_keeps_earlier_job)
{
    struct fx f;
    fx_open(&f, "store-savepoint");
    int64_t to = new_account(&f, 20, 0);
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    uint8_t id[SP_MESSAGE_ID_LEN];
    uint8_t *content = make_content(305, 1);
    bool dup = false;
    uint8_t key[32];
    memset(key, 9, sizeof key);

    ck_assert_int_eq(store_begin(f.c), SP_OK);
    /* job 1: stored */
    ck_assert_int_eq(store_savepoint(f.c), SP_OK);
    make_id(id, 1);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, 305, T0, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_release(f.c), SP_OK);
    /* job 2: two writes, then rolled back as a whole */
    ck_assert_int_eq(store_savepoint(f.c), SP_OK);
    make_id(id, 2);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, 305, T0, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, key, T0), SP_OK);
    store_rollback_to(f.c);
    /* job 3: stored; the replay key of job 2 is free again */
    ck_assert_int_eq(store_savepoint(f.c), SP_OK);
    make_id(id, 3);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, 305, T0, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, key, T0), SP_OK);
    ck_assert_int_eq(store_release(f.c), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    struct store_mail_page p = {0};
    ck_assert_int_eq(store_mail_fetch(f.c, to, 0, 10, SIZE_MAX, &p), SP_OK);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_uint_eq(p.items[0].message_id[15], 1);
    ck_assert_uint_eq(p.items[1].message_id[15], 3);
    store_mail_page_free(&p);
    check_counters(&f, to);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM replay"), 1);

    /* a whole transaction rolled back leaves nothing either */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    make_id(id, 4);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, 305, T0, &lim, &dup), SP_OK);
    store_rollback(f.c);
    store_rollback(f.c); /* no transaction: harmless */
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 2);

    /* a connection put back mid-transaction does not keep it open */
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    make_id(id, 5);
    ck_assert_int_eq(store_mail_put(f.c, to, id, content, 305, T0, &lim, &dup), SP_OK);
    store_conn_put(f.s, f.c);
    ck_assert_int_eq(store_conn_get(f.s, &f.c), SP_OK);
    ck_assert_int_eq(store_begin(f.c), SP_OK); /* would fail inside a transaction */
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    check_counters(&f, to);
    free(content);
    fx_close(&f);
}
END_TEST

/* ==== retention */

#define DAY ((uint64_t)24 * 3600)

START_TEST(test_prune_retention_and_audit)
{
    struct fx f;
    fx_open(&f, "store-prune");
    struct store_audit au;
    ck_assert_int_eq(store_audit(f.c, &au), SP_OK);
    ck_assert_uint_eq(au.accounts + au.mail + au.tokens + au.oldest_mail_hour, 0);

    int64_t idle = new_account(&f, 21, 4); /* active at T0 only */
    int64_t live = new_account(&f, 22, 3);
    struct sp_limits lim;
    sp_limits_defaults(&lim);
    uint8_t id[SP_MESSAGE_ID_LEN];
    uint8_t *content = make_content(305, 1);
    bool dup = false;
    uint8_t h1[32], h2[32], k1[32], k2[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    memset(k1, 3, 32);
    memset(k2, 4, 32);
    struct wire_register r;
    uint8_t addr[SP_ADDRESS_LEN];
    make_reg(&r, addr, 22, 1, 0);
    r.signed_prekey.id = 2;
    r.signed_prekey.public_key[4] ^= 1;

    ck_assert_int_eq(store_begin(f.c), SP_OK);
    make_id(id, 1); /* expired by now */
    ck_assert_int_eq(store_mail_put(f.c, live, id, content, 305, T0, &lim, &dup), SP_OK);
    make_id(id, 2); /* still young */
    ck_assert_int_eq(store_mail_put(f.c, live, id, content, 305, T0 + 5 * DAY + DAY / 2, &lim,
                                    &dup),
                     SP_OK);
    ck_assert_int_eq(store_mail_put(f.c, idle, id, content, 305, T0, &lim, &dup), SP_OK);
    ck_assert_int_eq(store_token_put(f.c, h1, live, store_hour_ceil(T0 + 3600)), SP_OK);
    ck_assert_int_eq(store_token_put(f.c, h2, live, store_hour_ceil(T0 + 7 * DAY)), SP_OK);
    ck_assert_int_eq(store_token_put(f.c, k1, idle, store_hour_ceil(T0 + 7 * DAY)), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, k1, store_hour_ceil(T0 + 300)), SP_OK);
    ck_assert_int_eq(store_replay_put(f.c, k2, store_hour_ceil(T0 + 7 * DAY)), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(f.c, live, &r.signed_prekey, T0), SP_OK);
    ck_assert_int_eq(store_account_touch(f.c, live, T0 + 4 * DAY), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);

    ck_assert_int_eq(store_audit(f.c, &au), SP_OK);
    ck_assert_uint_eq(au.accounts, 2);
    ck_assert_uint_eq(au.mail, 3);
    ck_assert_uint_eq(au.mail_bytes, 3 * 305);
    ck_assert_uint_eq(au.superseded_signed_prekeys, 1);
    ck_assert_uint_eq(au.oldest_mail_hour, store_hour(T0));

    /* batch 1: several rounds, each bounded */
    struct store_retention ret = {.envelope_ttl_s = DAY, .signed_prekey_grace_s = DAY,
                                  .account_idle_s = 5 * DAY, .batch = 1};
    struct store_prune_counts pc, sum = {0};
    int rounds = 0;
    do {
        ck_assert_int_lt(rounds++, 10);
        ck_assert_int_eq(store_begin(f.c), SP_OK);
        ck_assert_int_eq(store_prune(f.c, &ret, T0 + 6 * DAY, &pc), SP_OK);
        ck_assert_int_eq(store_commit(f.c), SP_OK);
        ck_assert_uint_le(pc.mail, 1);
        ck_assert_uint_le(pc.accounts, 1);
        sum.mail += pc.mail;
        sum.tokens += pc.tokens;
        sum.replay += pc.replay;
        sum.signed_prekeys += pc.signed_prekeys;
        sum.accounts += pc.accounts;
    } while (pc.more);
    ck_assert_int_ge(rounds, 2);
    /* the idle account's expired mail may go either way: by TTL or cascade */
    ck_assert_uint_ge(sum.mail, 1);
    ck_assert_uint_eq(sum.tokens, 1);
    ck_assert_uint_eq(sum.replay, 1);
    ck_assert_uint_eq(sum.signed_prekeys, 1);
    ck_assert_uint_eq(sum.accounts, 1);

    struct store_account a;
    ck_assert_int_eq(store_account_by_id(f.c, idle, &a), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(store_account_by_id(f.c, live, &a), SP_OK);
    ck_assert_int_eq(store_audit(f.c, &au), SP_OK);
    ck_assert_uint_eq(au.accounts, 1);
    ck_assert_uint_eq(au.mail, 1);
    ck_assert_uint_eq(au.mail_bytes, 305);
    ck_assert_uint_eq(au.tokens, 1);
    ck_assert_uint_eq(au.replay, 1);
    ck_assert_uint_eq(au.prekeys, 3);
    ck_assert_uint_eq(au.signed_prekeys, 1);
    ck_assert_uint_eq(au.superseded_signed_prekeys, 0);
    ck_assert_uint_eq(au.oldest_active_hour, store_hour(T0 + 4 * DAY));
    check_counters(&f, live);
    int64_t left = -1;
    ck_assert_int_eq(store_token_lookup(f.c, h2, T0 + 6 * DAY, &left), SP_OK);
    ck_assert_int_eq(left, live);

    /* nothing more to do; idle expiry off keeps accounts */
    ret.account_idle_s = 0;
    ret.batch = 100;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_prune(f.c, &ret, T0 + 100 * DAY, &pc), SP_OK);
    ck_assert_int_eq(store_commit(f.c), SP_OK);
    ck_assert_uint_eq(pc.accounts, 0);
    ck_assert_uint_eq(pc.mail, 1);
    ck_assert(!pc.more);
    ret.batch = 0;
    ck_assert_int_eq(store_prune(f.c, &ret, T0, &pc), SP_ERR_USAGE);

    /* checkpoint: refused inside a transaction, truncates the WAL outside */
    bool complete = false;
    ck_assert_int_eq(store_begin(f.c), SP_OK);
    ck_assert_int_eq(store_checkpoint(f.c, &complete), SP_ERR_USAGE);
    store_rollback(f.c);
    ck_assert_int_eq(store_checkpoint(f.c, &complete), SP_OK);
    ck_assert(complete);
    char *wal = tu_path(f.dir, "relay.db-wal");
    struct stat sb;
    ck_assert_int_eq(stat(wal, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
    free(wal);
    free(content);
    fx_close(&f);
}
END_TEST

/* ==== the vtable: a backend whose third connection cannot be opened */

static int conn_opens;

static sp_status failing_conn_open(void *backend, struct store_conn **out)
{
    if (++conn_opens == 3)
        return SP_ERR_IO;
    return store_sqlite_ops.conn_open(backend, out);
}

START_TEST(test_open_with_failing_backend_cleans_up)
{
    char *dir = tu_tmpdir("store-inject");
    char *path = tu_path(dir, "relay.db");
    struct store_ops ops = store_sqlite_ops;
    ops.conn_open = failing_conn_open;
    struct store *s = NULL;
    struct store_options o = {.path = path, .pool_size = 4};
    conn_opens = 0;
    ck_assert_int_eq(store_open_with(&s, &ops, &o), SP_ERR_IO);
    ck_assert_ptr_null(s);
    /* the database itself was fine and is usable afterwards */
    ck_assert_int_eq(store_open(&s, &o), SP_OK);
    ck_assert_int_eq(store_schema_version(s), store_schema_latest());
    store_close(s);
    tu_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *open = tcase_create("open");
    tcase_add_test(open, test_open_creates_private_wal_file);
    tcase_add_test(open, test_open_tightens_existing_file_mode);
    tcase_add_test(open, test_open_bad_paths);
    tcase_add_test(open, test_reopen_keeps_data_and_records_versions);
    tcase_add_test(open, test_newer_schema_is_refused_unchanged);
    tcase_add_test(open, test_secure_delete_erases_acked_mail);
    tcase_add_test(open, test_open_with_failing_backend_cleans_up);
    suite_add_tcase(s, open);

    TCase *acct = tcase_create("accounts");
    tcase_add_test(acct, test_register_create_and_idempotent);
    tcase_add_test(acct, test_register_conflicts_change_nothing);
    tcase_add_test(acct, test_account_touch_moves_forward_only);
    suite_add_tcase(s, acct);

    TCase *keys = tcase_create("prekeys");
    tcase_set_timeout(keys, 60);
    tcase_add_test(keys, test_prekeys_add_count_idempotent_conflict_limit);
    tcase_add_test(keys, test_bundle_take_oldest_first_exactly_once);
    tcase_add_test(keys, test_bundle_take_concurrent_exactly_once);
    tcase_add_test(keys, test_pool_get_blocks_until_put);
    tcase_add_test(keys, test_signed_prekey_set_noop_conflict_supersede);
    suite_add_tcase(s, keys);

    TCase *cred = tcase_create("credentials");
    tcase_add_test(cred, test_token_put_lookup_expiry);
    tcase_add_test(cred, test_replay_put_twice);
    suite_add_tcase(s, cred);

    TCase *mail = tcase_create("mail");
    tcase_add_test(mail, test_mail_put_duplicate_and_quota);
    tcase_add_test(mail, test_mail_fetch_paging_and_budget);
    tcase_add_test(mail, test_mail_ack);
    tcase_add_test(mail, test_savepoint_rollback_keeps_earlier_job);
    suite_add_tcase(s, mail);

    TCase *ret = tcase_create("retention");
    tcase_add_test(ret, test_prune_retention_and_audit);
    suite_add_tcase(s, ret);
    return s;
}

int main(void)
{
    return tu_run(store_suite());
}
