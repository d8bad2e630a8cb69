/*
 * offline_fixture.c: see offline_fixture.h.
 */
#include "offline_fixture.h"

#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/sdk_internal.h"
#include "common/address.h"
#include "common/crypto.h"
#include "testutil.h"

void of_global_init(void)
{
    /* the TLS proxy writes to sockets whose peer may just have been killed */
    signal(SIGPIPE, SIG_IGN);
    rh_global_init();
}

void of_global_cleanup(void)
{
    rh_global_cleanup();
}

char *of_key_path(void)
{
    const char *cert = rh_cert_path();
    const char *slash = strrchr(cert, '/');
    ck_assert_ptr_nonnull(slash);
    size_t n = (size_t)(slash - cert) + sizeof "/key.pem";
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%.*s/key.pem", (int)(slash - cert), cert);
    return p;
}

static sealpost_options opts_for(const struct agent *a)
{
    sealpost_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.server_url = a->url;
    o.ca_file = rh_cert_path();
    o.timeout_ms = 20000;
    return o;
}

void agent_open(struct agent *a, const char *tag, const char *url)
{
    memset(a, 0, sizeof *a);
    a->dir = tu_tmpdir(tag);
    a->url = strdup(url);
    ck_assert_ptr_nonnull(a->url);
    sealpost_options o = opts_for(a);
    ck_assert_int_eq(sealpost_open(&a->c, a->dir, &o), SEALPOST_OK);
}

void agent_new(struct agent *a, const char *tag, const char *url, unsigned prekey_target,
               int refill_below)
{
    agent_open(a, tag, url);
    struct keystore *ks = sdk_keystore(a->c);
    if (prekey_target > 0)
        ck_assert_int_eq(keystore_setting_set_u64(ks, SDK_SET_PREKEY_TARGET, prekey_target),
                         SP_OK);
    if (refill_below >= 0)
        ck_assert_int_eq(
            keystore_setting_set_u64(ks, SDK_SET_PREKEY_LOW, (uint64_t)refill_below), SP_OK);
    sealpost_status st = sealpost_init(a->c, url);
    ck_assert_msg(st == SEALPOST_OK, "sealpost_init: %s", sealpost_strerror(st));
    ck_assert_int_eq(sealpost_address(a->c, a->addr), SEALPOST_OK);
    ck_assert_int_eq(strlen(a->addr), SEALPOST_ADDRESS_LEN);
    ck_assert_int_eq(sp_address_from_text(a->raw, a->addr, SP_ADDRESS_TEXT_LEN), SP_OK);
}

void agent_close(struct agent *a)
{
    sealpost_close(a->c);
    a->c = NULL;
}

void agent_reopen(struct agent *a)
{
    ck_assert_ptr_null(a->c);
    sealpost_options o = opts_for(a);
    ck_assert_int_eq(sealpost_open(&a->c, a->dir, &o), SEALPOST_OK);
}

void agent_free(struct agent *a)
{
    if (a == NULL)
        return;
    sealpost_close(a->c);
    if (a->dir != NULL && getenv("SEALPOST_KEEP_STATE") == NULL)
        tu_rmtree(a->dir);
    free(a->dir);
    free(a->url);
    memset(a, 0, sizeof *a);
}

void agent_send(struct agent *a, const struct agent *to, const char *text, int expect_queued,
                uint8_t mid_out[SEALPOST_MESSAGE_ID_LEN])
{
    int queued = -7;
    sealpost_status st =
        sealpost_send(a->c, to->addr, (const uint8_t *)text, strlen(text), &queued, mid_out);
    ck_assert_msg(st == SEALPOST_OK, "sealpost_send: %s", sealpost_strerror(st));
    if (expect_queued >= 0)
        ck_assert_int_eq(queued, expect_queued);
}

sealpost_sync_stats agent_sync(struct agent *a)
{
    sealpost_sync_stats s;
    memset(&s, 0xAB, sizeof s);
    sealpost_status st = sealpost_sync(a->c, 0, &s);
    ck_assert_msg(st == SEALPOST_OK, "sealpost_sync: %s", sealpost_strerror(st));
    return s;
}

void inbox_snap(struct agent *a, struct inbox_snap *out)
{
    memset(out, 0, sizeof *out);
    ck_assert_int_eq(sealpost_inbox_list(a->c, 0, 100000, &out->v, &out->n), SEALPOST_OK);
}

void inbox_snap_free(struct inbox_snap *s)
{
    sealpost_messages_free(s->v, s->n);
    memset(s, 0, sizeof *s);
}

size_t inbox_count_body(const struct inbox_snap *s, const char *body)
{
    size_t k = 0, len = strlen(body);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->body_len == len && memcmp(s->v[i]->body, body, len) == 0)
            k++;
    return k;
}

/* ---------------------------------------------------------------- state */

static sqlite3 *open_db(const char *dir)
{
    char *path = tu_path(dir, "state.db");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    free(path);
    ck_assert_msg(rc == SQLITE_OK, "open state.db: %s", db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void hash_more(uint8_t acc[32], const void *p, size_t n)
{
    uint8_t tmp[32];
    ck_assert_int_eq(sp_sha256(tmp, acc, 32, p, n), SP_OK);
    memcpy(acc, tmp, 32);
}

void state_digest(const char *dir, uint8_t out[32])
{
    static const char *const tables[] = {"local_identity", "sessions", "prekeys",
                                         "signed_prekeys", "identities", "sender_keys",
                                         "inbox", "outbox", "pending"};
    sqlite3 *db = open_db(dir);
    memset(out, 0, 32);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        char sql[128];
        sqlite3_stmt *q = NULL;
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[t]);
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
                      sqlite3_errmsg(db));
        hash_more(out, tables[t], strlen(tables[t]) + 1);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(q); c++) {
                uint8_t type = (uint8_t)sqlite3_column_type(q, c);
                const void *b = sqlite3_column_blob(q, c);
                uint32_t n = (uint32_t)sqlite3_column_bytes(q, c);
                hash_more(out, &type, 1);
                hash_more(out, &n, sizeof n);
                if (n > 0)
                    hash_more(out, b, n);
            }
        }
        ck_assert_int_eq(rc, SQLITE_DONE);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}

size_t state_rows(const char *dir, const char *table)
{
    sqlite3 *db = open_db(dir);
    char sql[128];
    sqlite3_stmt *q = NULL;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

size_t outbox_copy(struct agent *a, struct ks_outbox_item **items)
{
    size_t n = 0;
    ck_assert_int_eq(keystore_outbox_load(sdk_keystore(a->c), 0, 100000, items, &n), SP_OK);
    return n;
}

/* ---------------------------------------------------------------- courier */

void courier_new(struct courier *k, const struct relay *r)
{
    memset(k, 0, sizeof *k);
    rh_client(&k->cl, r);
    rh_account(&k->cl, &k->id, 1);
}

void courier_free(struct courier *k)
{
    rc_client_free(&k->cl);
    rc_identity_free(&k->id);
}

long courier_post(struct courier *k, const uint8_t recipient[static SP_ADDRESS_LEN],
                  const uint8_t message_id[static SP_MESSAGE_ID_LEN], const uint8_t *content,
                  size_t len, uint32_t *dups)
{
    struct wire_out_envelope e;
    struct wire_send_response sr = {0, 0};
    memcpy(e.recipient, recipient, SP_ADDRESS_LEN);
    memcpy(e.message_id, message_id, SP_MESSAGE_ID_LEN);
    e.content = content;
    e.content_len = len;
    long st = rc_send(&k->cl, &k->id, &e, 1, &sr, NULL);
    if (dups != NULL)
        *dups = sr.duplicates;
    return st;
}
