/*
 * test_keystore.c: the SDK state file and the five libsignal store
 * callbacks, against a real SQLite file in a private temporary directory.
 * Every callback's return convention (LIBSIGNAL.md section 4), copy
 * semantics of borrowed inputs, fresh outputs, file modes, the state lock,
 * migrations and transaction rollback.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "client/keystore.h"
#include "client/migrations.h"
#include "client/signal_ctx.h"
#include "common/address.h"
#include "common/secmem.h"
#include "sealpost/sealpost.h"
#include "testutil.h"

struct fixture {
    char *dir;
    struct keystore *ks;
    struct signal_ctx *sig;
    signal_protocol_session_store sess;
    signal_protocol_pre_key_store pk;
    signal_protocol_signed_pre_key_store spk;
    signal_protocol_identity_key_store id;
    signal_protocol_sender_key_store sk;
};

static uint64_t fake_now_value = 1700000000;
static uint64_t fake_now(void *ctx)
{
    (void)ctx;
    return fake_now_value;
}
static const struct sp_clock fake_clock = {fake_now, NULL};

static void fx_open(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = tu_tmpdir("ks");
    char *state = tu_path(f->dir, "state");
    ck_assert_int_eq(keystore_open(&f->ks, state, &fake_clock), SP_OK);
    free(state);
    ck_assert_int_eq(signal_ctx_new(&f->sig), SP_OK);
    keystore_fill_stores(f->ks, &f->sess, &f->pk, &f->spk, &f->id, &f->sk);
}

static void fx_close(struct fixture *f)
{
    keystore_close(f->ks);
    signal_ctx_free(f->sig);
    tu_rmtree(f->dir);
    free(f->dir);
}

/* A peer identity key and its address text (a real libsignal key). */
static void make_peer(struct fixture *f, uint8_t key[SP_PUBKEY_LEN],
                      char text[SP_ADDRESS_TEXT_LEN + 1])
{
    uint8_t priv[32], raw[SP_ADDRESS_LEN];
    ck_assert_int_eq(signal_ctx_identity_generate(f->sig, key, priv), SP_OK);
    sp_wipe(priv, sizeof(priv));
    ck_assert_int_eq(sp_address_derive(raw, key), SP_OK);
    sp_address_to_text(text, raw);
}

START_TEST(test_files_modes_and_migrations)
{
    char *dir = tu_tmpdir("ksm");
    char *state = tu_path(dir, "state");
    char *db = tu_path(state, "state.db");
    struct keystore *ks = NULL;
    struct stat sb;
    int v = 0;

    umask(022); /* the file must be 0600 whatever the umask */
    ck_assert_int_eq(keystore_open(&ks, state, &fake_clock), SP_OK);
    ck_assert_int_eq(stat(state, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(keystore_schema_version(ks, &v), SP_OK);
    ck_assert_int_eq(v, client_migrations_count);
    ck_assert_int_ge(v, 1);
    keystore_close(ks);

    /* migrations are recorded: a reopen applies nothing and keeps data */
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(raw, "SELECT COUNT(*), MIN(version), MAX(version) FROM "
                                             "schema_migrations",
                                        -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), client_migrations_count);
    ck_assert_int_eq(sqlite3_column_int(s, 1), 1);
    sqlite3_finalize(s);
    /* journal mode persisted as WAL */
    ck_assert_int_eq(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(raw);

    ck_assert_int_eq(keystore_open(&ks, state, &fake_clock), SP_OK);
    ck_assert_int_eq(keystore_schema_version(ks, &v), SP_OK);
    ck_assert_int_eq(v, client_migrations_count);
    keystore_close(ks);

    /* a state file from a newer SDK (unknown version) is refused */
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    ck_assert_int_eq(keystore_open(&ks, state, &fake_clock), SP_ERR_IO);
    ck_assert_ptr_null(ks);

    tu_rmtree(dir);
    free(db);
    free(state);
    free(dir);
}
END_TEST

START_TEST(test_lock_prevents_second_open)
{
    char *dir = tu_tmpdir("ksl");
    struct keystore *a = NULL, *b = NULL;
    ck_assert_int_eq(keystore_open(&a, dir, NULL), SP_OK);
    ck_assert_int_eq(keystore_open(&b, dir, NULL), SP_ERR_IO);
    ck_assert_ptr_null(b);
    /* the public API says the same */
    sealpost_client *c = NULL;
    ck_assert_int_eq(sealpost_open(&c, dir, NULL), SEALPOST_ERR_IO);
    ck_assert_ptr_null(c);
    keystore_close(a);
    ck_assert_int_eq(keystore_open(&b, dir, NULL), SP_OK);
    keystore_close(b);
    ck_assert_int_eq(keystore_open(&b, "", NULL), SP_ERR_USAGE);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_session_store_contract)
{
    struct fixture f;
    uint8_t key[SP_PUBKEY_LEN];
    char name[SP_ADDRESS_TEXT_LEN + 1];
    fx_open(&f);
    make_peer(&f, key, name);
    signal_protocol_address addr = {name, SP_ADDRESS_TEXT_LEN, 1};
    signal_protocol_address addr2 = {name, SP_ADDRESS_TEXT_LEN, 2};
    void *ud = f.sess.user_data;
    signal_buffer *rec = NULL, *urec = NULL;

    /* missing: 0 and nothing allocated */
    ck_assert_int_eq(f.sess.load_session_func(&rec, &urec, &addr, ud), 0);
    ck_assert_ptr_null(rec);
    ck_assert_ptr_null(urec);
    ck_assert_int_eq(f.sess.contains_session_func(&addr, ud), 0);

    /* store copies the borrowed input; writes return exactly 0 */
    uint8_t data[40], user[5] = {9, 8, 7, 6, 5};
    memset(data, 0xA5, sizeof(data));
    ck_assert_int_eq(f.sess.store_session_func(&addr, data, sizeof(data), NULL, 0, ud), 0);
    memset(data, 0, sizeof(data));
    ck_assert_int_eq(f.sess.load_session_func(&rec, &urec, &addr, ud), 1);
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_null(urec); /* no user record stored */
    ck_assert_uint_eq(signal_buffer_len(rec), 40);
    ck_assert_int_eq(signal_buffer_data(rec)[0], 0xA5);
    ck_assert_int_eq(signal_buffer_data(rec)[39], 0xA5);
    /* a second load is a fresh allocation */
    signal_buffer *rec2 = NULL;
    ck_assert_int_eq(f.sess.load_session_func(&rec2, NULL, &addr, ud), 1);
    ck_assert_ptr_ne(rec, rec2);
    signal_buffer_free(rec2);
    signal_buffer_free(rec);
    rec = NULL;

    /* replace, with a user record */
    ck_assert_int_eq(f.sess.store_session_func(&addr, data, 3, user, sizeof(user), ud), 0);
    ck_assert_int_eq(f.sess.load_session_func(&rec, &urec, &addr, ud), 1);
    ck_assert_uint_eq(signal_buffer_len(rec), 3);
    ck_assert_ptr_nonnull(urec);
    ck_assert_uint_eq(signal_buffer_len(urec), 5);
    ck_assert_int_eq(memcmp(signal_buffer_data(urec), user, 5), 0);
    signal_buffer_free(rec);
    signal_buffer_free(urec);
    ck_assert_int_eq(f.sess.contains_session_func(&addr, ud), 1);

    /* sub-device sessions: other devices only */
    signal_int_list *list = NULL;
    ck_assert_int_eq(f.sess.get_sub_device_sessions_func(&list, name, SP_ADDRESS_TEXT_LEN, ud), 0);
    signal_int_list_free(list);
    ck_assert_int_eq(f.sess.store_session_func(&addr2, data, 3, NULL, 0, ud), 0);
    list = NULL;
    ck_assert_int_eq(f.sess.get_sub_device_sessions_func(&list, name, SP_ADDRESS_TEXT_LEN, ud), 1);
    ck_assert_int_eq(signal_int_list_at(list, 0), 2);
    signal_int_list_free(list);

    /* delete: 1 then 0; delete_all: the count */
    ck_assert_int_eq(f.sess.delete_session_func(&addr2, ud), 1);
    ck_assert_int_eq(f.sess.delete_session_func(&addr2, ud), 0);
    ck_assert_int_eq(f.sess.store_session_func(&addr2, data, 3, NULL, 0, ud), 0);
    ck_assert_int_eq(f.sess.delete_all_sessions_func(name, SP_ADDRESS_TEXT_LEN, ud), 2);
    ck_assert_int_eq(f.sess.contains_session_func(&addr, ud), 0);
    fx_close(&f);
}
END_TEST

static void check_key_store(int (*load)(signal_buffer **, uint32_t, void *),
                            int (*store)(uint32_t, uint8_t *, size_t, void *),
                            int (*contains)(uint32_t, void *), int (*rm)(uint32_t, void *),
                            void *ud)
{
    signal_buffer *rec = NULL;
    uint8_t data[7] = {1, 2, 3, 4, 5, 6, 7};
    /* missing: SG_ERR_INVALID_KEY_ID, never 0 without a record */
    ck_assert_int_eq(load(&rec, 42, ud), SG_ERR_INVALID_KEY_ID);
    ck_assert_ptr_null(rec);
    ck_assert_int_eq(contains(42, ud), 0);
    ck_assert_int_eq(store(42, data, sizeof(data), ud), 0);
    data[0] = 99; /* the store kept its own copy */
    ck_assert_int_eq(contains(42, ud), 1);
    ck_assert_int_eq(load(&rec, 42, ud), SG_SUCCESS);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(signal_buffer_len(rec), 7);
    ck_assert_int_eq(signal_buffer_data(rec)[0], 1);
    signal_buffer_free(rec);
    /* remove: exactly 0, also when absent */
    ck_assert_int_eq(rm(42, ud), 0);
    ck_assert_int_eq(rm(42, ud), 0);
    ck_assert_int_eq(contains(42, ud), 0);
    rec = NULL;
    ck_assert_int_eq(load(&rec, 42, ud), SG_ERR_INVALID_KEY_ID);
    ck_assert_ptr_null(rec);
    /* the 24-bit maximum id round-trips */
    ck_assert_int_eq(store(0xFFFFFF, data, sizeof(data), ud), 0);
    ck_assert_int_eq(contains(0xFFFFFF, ud), 1);
}

START_TEST(test_prekey_stores_contract)
{
    struct fixture f;
    fx_open(&f);
    check_key_store(f.pk.load_pre_key, f.pk.store_pre_key, f.pk.contains_pre_key,
                    f.pk.remove_pre_key, f.pk.user_data);
    check_key_store(f.spk.load_signed_pre_key, f.spk.store_signed_pre_key,
                    f.spk.contains_signed_pre_key, f.spk.remove_signed_pre_key,
                    f.spk.user_data);
    /* the signed prekey got its creation time from the injected clock */
    uint64_t created = 0;
    ck_assert_int_eq(keystore_spk_created(f.ks, 0xFFFFFF, &created), SP_OK);
    ck_assert_uint_eq(created, fake_now_value);
    ck_assert_int_eq(keystore_spk_created(f.ks, 5, &created), SP_ERR_NOT_FOUND);
    fx_close(&f);
}
END_TEST

START_TEST(test_identity_store_contract)
{
    struct fixture f;
    uint8_t pub[SP_PUBKEY_LEN], priv[32], peer[SP_PUBKEY_LEN], other[SP_PUBKEY_LEN];
    char name[SP_ADDRESS_TEXT_LEN + 1], other_name[SP_ADDRESS_TEXT_LEN + 1];
    signal_buffer *p = NULL, *k = NULL;
    uint32_t reg = 0;
    fx_open(&f);
    void *ud = f.id.user_data;

    /* no identity yet: an error, and neither buffer set */
    ck_assert_int_lt(f.id.get_identity_key_pair(&p, &k, ud), 0);
    ck_assert_ptr_null(p);
    ck_assert_ptr_null(k);
    ck_assert_int_lt(f.id.get_local_registration_id(ud, &reg), 0);

    ck_assert_int_eq(signal_ctx_identity_generate(f.sig, pub, priv), SP_OK);
    ck_assert_int_eq(keystore_identity_put(f.ks, pub, priv, 123456789), SP_OK);
    ck_assert_int_eq(keystore_identity_put(f.ks, pub, priv, 1), SP_ERR_CONFLICT);
    /* both buffers set, 33 and 32 bytes */
    ck_assert_int_eq(f.id.get_identity_key_pair(&p, &k, ud), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(signal_buffer_len(p), 33);
    ck_assert_uint_eq(signal_buffer_len(k), 32);
    ck_assert_int_eq(memcmp(signal_buffer_data(p), pub, 33), 0);
    ck_assert_int_eq(memcmp(signal_buffer_data(k), priv, 32), 0);
    signal_buffer_free(p);
    signal_buffer_bzero_free(k);
    /* user_data comes FIRST for this one */
    ck_assert_int_eq(f.id.get_local_registration_id(ud, &reg), 0);
    ck_assert_uint_eq(reg, 123456789);

    /* trust: self-certifying addresses */
    make_peer(&f, peer, name);
    make_peer(&f, other, other_name);
    signal_protocol_address addr = {name, SP_ADDRESS_TEXT_LEN, 1};
    ck_assert_int_eq(f.id.is_trusted_identity(&addr, peer, 33, ud), 1); /* first use */
    ck_assert_int_eq(f.id.is_trusted_identity(&addr, other, 33, ud), 0); /* does not hash */
    ck_assert_int_eq(f.id.is_trusted_identity(&addr, peer, 32, ud), 0);  /* wrong length */
    ck_assert_int_eq(f.id.save_identity(&addr, peer, 33, ud), 0);
    ck_assert_int_eq(f.id.save_identity(&addr, peer, 33, ud), 0); /* again: still exactly 0 */
    ck_assert_int_eq(f.id.is_trusted_identity(&addr, peer, 33, ud), 1);
    uint8_t got[33];
    ck_assert_int_eq(keystore_peer_identity(f.ks, name, got), SP_OK);
    ck_assert_int_eq(memcmp(got, peer, 33), 0);
    /* a name that is not an address is never trusted */
    char bogus[] = "not-an-address";
    signal_protocol_address baddr = {bogus, strlen(bogus), 1};
    ck_assert_int_eq(f.id.is_trusted_identity(&baddr, peer, 33, ud), 0);
    /* a stored key that differs (forced in) makes the real one untrusted */
    signal_protocol_address oaddr = {other_name, SP_ADDRESS_TEXT_LEN, 1};
    ck_assert_int_eq(f.id.save_identity(&oaddr, peer, 33, ud), 0);
    ck_assert_int_eq(f.id.is_trusted_identity(&oaddr, other, 33, ud), 0);
    /* NULL key removes */
    ck_assert_int_eq(f.id.save_identity(&oaddr, NULL, 0, ud), 0);
    ck_assert_int_eq(keystore_peer_identity(f.ks, other_name, got), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(f.id.is_trusted_identity(&oaddr, other, 33, ud), 1);
    sp_wipe(priv, sizeof(priv));
    fx_close(&f);
}
END_TEST

START_TEST(test_sender_key_store_contract)
{
    struct fixture f;
    fx_open(&f);
    char name[] = "abcdefghijklmnopqrstuvwxyz234567";
    signal_protocol_sender_key_name skn = {"group", 5, {name, 32, 1}};
    signal_buffer *rec = NULL, *urec = NULL;
    uint8_t data[4] = {1, 2, 3, 4};
    void *ud = f.sk.user_data;
    ck_assert_int_eq(f.sk.load_sender_key(&rec, &urec, &skn, ud), 0);
    ck_assert_ptr_null(rec);
    ck_assert_int_eq(f.sk.store_sender_key(&skn, data, 4, data, 2, ud), 0);
    data[0] = 0;
    ck_assert_int_eq(f.sk.load_sender_key(&rec, &urec, &skn, ud), 1);
    ck_assert_uint_eq(signal_buffer_len(rec), 4);
    ck_assert_int_eq(signal_buffer_data(rec)[0], 1);
    ck_assert_uint_eq(signal_buffer_len(urec), 2);
    signal_buffer_free(rec);
    signal_buffer_free(urec);
    fx_close(&f);
}
END_TEST

START_TEST(test_transaction_rollback)
{
    struct fixture f;
    fx_open(&f);
    uint8_t data[3] = {1, 2, 3};
    signal_buffer *rec = NULL;
    ck_assert_int_eq(keystore_begin(f.ks), SP_OK);
    ck_assert_int_eq(f.pk.store_pre_key(7, data, 3, f.pk.user_data), 0);
    ck_assert_int_eq(keystore_savepoint(f.ks), SP_OK);
    ck_assert_int_eq(f.pk.store_pre_key(8, data, 3, f.pk.user_data), 0);
    keystore_rollback_to(f.ks);
    ck_assert_int_eq(f.pk.contains_pre_key(8, f.pk.user_data), 0);
    ck_assert_int_eq(f.pk.contains_pre_key(7, f.pk.user_data), 1);
    keystore_rollback(f.ks);
    ck_assert_int_eq(f.pk.load_pre_key(&rec, 7, f.pk.user_data), SG_ERR_INVALID_KEY_ID);
    keystore_rollback(f.ks); /* no-op outside a transaction */
    fx_close(&f);
}
END_TEST

START_TEST(test_inbox_seen_outbox_pending)
{
    struct fixture f;
    uint8_t mid[16], mid2[16];
    char name[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t key[33];
    bool seen = true;
    fx_open(&f);
    make_peer(&f, key, name);
    memset(mid, 1, 16);
    memset(mid2, 2, 16);

    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(!seen);
    ck_assert_int_eq(keystore_inbox_insert(f.ks, mid, name, (const uint8_t *)"hi", 2), SP_OK);
    ck_assert_int_eq(keystore_inbox_insert(f.ks, mid, name, (const uint8_t *)"hi", 2),
                     SP_ERR_DUPLICATE);
    ck_assert_int_eq(keystore_inbox_insert(f.ks, mid2, name, NULL, 0), SP_OK); /* empty body */
    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(seen); /* in the inbox counts as seen */

    sealpost_message **v = NULL;
    size_t n = 0;
    ck_assert_int_eq(keystore_inbox_list(f.ks, 0, 10, &v, &n), SP_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0]->sender, name);
    ck_assert_uint_eq(v[0]->body_len, 2);
    ck_assert_int_eq(memcmp(v[0]->body, "hi", 2), 0);
    ck_assert_uint_eq(v[1]->body_len, 0);
    ck_assert_int_eq((long)v[0]->received_at, (long)fake_now_value);
    int64_t first = v[0]->id;
    sealpost_messages_free(v, n);

    ck_assert_int_eq(keystore_inbox_done(f.ks, first), SP_OK);
    ck_assert_int_eq(keystore_inbox_done(f.ks, 987654), SP_OK); /* unknown: OK */
    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(!seen);
    ck_assert_int_eq(keystore_seen_add(f.ks, mid), SP_OK);
    ck_assert_int_eq(keystore_seen_add(f.ks, mid), SP_OK); /* idempotent */
    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(seen);
    /* pruned only after the max age */
    fake_now_value += 59 * 24 * 3600;
    ck_assert_int_eq(keystore_seen_prune(f.ks, 60 * 24 * 3600), SP_OK);
    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(seen);
    fake_now_value += 2 * 24 * 3600;
    ck_assert_int_eq(keystore_seen_prune(f.ks, 60 * 24 * 3600), SP_OK);
    ck_assert_int_eq(keystore_seen_has(f.ks, mid, &seen), SP_OK);
    ck_assert(!seen);

    /* outbox */
    uint8_t content[305];
    memset(content, 7, sizeof(content));
    ck_assert_int_eq(keystore_outbox_insert(f.ks, mid, name, content, sizeof(content)), SP_OK);
    ck_assert_int_eq(keystore_outbox_insert(f.ks, mid, name, content, sizeof(content)),
                     SP_ERR_CONFLICT);
    keystore_test_fail_outbox_insert(f.ks, 1);
    ck_assert_int_eq(keystore_outbox_insert(f.ks, mid2, name, content, 10), SP_ERR_IO);
    struct ks_outbox_item *items = NULL;
    ck_assert_int_eq(keystore_outbox_load(f.ks, 0, 100, &items, &n), SP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(items[0].content_len, sizeof(content));
    uint8_t raw[SP_ADDRESS_LEN];
    ck_assert_int_eq(sp_address_from_text(raw, name, 32), SP_OK);
    ck_assert_int_eq(memcmp(items[0].recipient, raw, SP_ADDRESS_LEN), 0);
    int64_t oid = items[0].id;
    keystore_outbox_free(items, n);
    ck_assert_int_eq(keystore_outbox_delete(f.ks, &oid, 1), SP_OK);
    ck_assert_int_eq(keystore_outbox_count(f.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);

    /* pending */
    struct ks_pending_item it;
    ck_assert_int_eq(keystore_pending_next(f.ks, 0, &it), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(keystore_pending_insert(f.ks, mid2, name, (const uint8_t *)"x", 1), SP_OK);
    ck_assert_int_eq(keystore_pending_next(f.ks, 0, &it), SP_OK);
    ck_assert_str_eq(it.recipient, name);
    ck_assert_uint_eq(it.body_len, 1);
    ck_assert_int_eq(keystore_pending_delete(f.ks, it.id), SP_OK);
    keystore_pending_free(&it);
    ck_assert_int_eq(keystore_pending_count(f.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);

    /* settings */
    uint64_t u = 0;
    char *sv = NULL;
    ck_assert_int_eq(keystore_setting_get(f.ks, "nope", &sv), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(keystore_setting_get_u64(f.ks, "nope", 17, &u), SP_OK);
    ck_assert_uint_eq(u, 17);
    ck_assert_int_eq(keystore_setting_set_u64(f.ks, "n", 0xFFFFFFFFFFull), SP_OK);
    ck_assert_int_eq(keystore_setting_get_u64(f.ks, "n", 0, &u), SP_OK);
    ck_assert_uint_eq(u, 0xFFFFFFFFFFull);
    ck_assert_int_eq(keystore_setting_set(f.ks, "n", "garbage"), SP_OK);
    ck_assert_int_eq(keystore_setting_get_u64(f.ks, "n", 5, &u), SP_OK);
    ck_assert_uint_eq(u, 5);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("keystore");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_files_modes_and_migrations);
    tcase_add_test(tc, test_lock_prevents_second_open);
    tcase_add_test(tc, test_session_store_contract);
    tcase_add_test(tc, test_prekey_stores_contract);
    tcase_add_test(tc, test_identity_store_contract);
    tcase_add_test(tc, test_sender_key_store_contract);
    tcase_add_test(tc, test_transaction_rollback);
    tcase_add_test(tc, test_inbox_seen_outbox_pending);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
