/*
 * api_fixture.h: a relay API over a real SQLite store in a temp dir, with a
 * fake clock and real libsignal identities, driven through api_handle() like
 * the HTTP layer does (wake() signals a condvar; the test re-enters).
 *
 * Header-only (static inline) so each test executable stays one .c file.
 */
#ifndef SEALPOST_TESTS_API_FIXTURE_H
#define SEALPOST_TESTS_API_FIXTURE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/signal_ctx.h"
#include "common/address.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/encoding.h"
#include "common/secmem.h"
#include "common/wire.h"
#include "server/api/api.h"
#include "server/config.h"
#include "server/store/store.h"
#include "testutil.h"

#define FX_T0 ((uint64_t)1700001234) /* fake "now", not hour aligned */

struct fx {
    char *dir, *path;
    struct config cfg;
    struct store *store;
    struct api *api;
    struct sp_clock clock;
    _Atomic uint64_t now;
    struct signal_ctx *sig;
};

static inline uint64_t fx_clock_now(void *ctx)
{
    struct fx *f = ctx;
    return atomic_load(&f->now);
}

/* Step 1: defaults; the test may change f->cfg before fx_start(). */
static inline void fx_init(struct fx *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_tmpdir(tag);
    f->path = tu_path(f->dir, "relay.db");
    config_defaults(&f->cfg);
    atomic_store(&f->now, FX_T0);
    f->clock.now = fx_clock_now;
    f->clock.ctx = f;
    ck_assert_int_eq(signal_ctx_new(&f->sig), SP_OK);
}

static inline void fx_start(struct fx *f)
{
    struct store_options o = {
        .path = f->path, .sync = STORE_SYNC_NORMAL, .pool_size = 6, .busy_timeout_ms = 5000};
    ck_assert_int_eq(store_open(&f->store, &o), SP_OK);
    struct api_options ao = {.config = &f->cfg, .store = f->store, .clock = &f->clock};
    ck_assert_int_eq(api_create(&f->api, &ao), SP_OK);
}

static inline void fx_setup(struct fx *f, const char *tag)
{
    fx_init(f, tag);
    fx_start(f);
}

static inline void fx_teardown(struct fx *f)
{
    if (f->api != NULL) {
        api_shutdown(f->api);
        api_destroy(f->api);
    }
    store_close(f->store);
    signal_ctx_free(f->sig);
    config_free(&f->cfg);
    tu_rmtree(f->dir);
    free(f->path);
    free(f->dir);
}

static inline void fx_advance(struct fx *f, uint64_t s)
{
    atomic_fetch_add(&f->now, s);
}

/* ---- calls */

struct tcall {
    struct api_call call; /* first: wake() casts back */
    pthread_mutex_t m;
    pthread_cond_t cv;
    int wakes;    /* total wake() calls */
    int consumed; /* wakes already waited for */
    char path[160];
    char auth[80];
};

static inline void tcall_wake(struct api_call *call)
{
    struct tcall *t = (struct tcall *)call;
    pthread_mutex_lock(&t->m);
    t->wakes++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->m);
}

static inline void tcall_init(struct tcall *t, enum api_method m, const char *path,
                              const char *bearer)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->m, NULL);
    pthread_cond_init(&t->cv, NULL);
    snprintf(t->path, sizeof t->path, "%s", path);
    t->call.req.method = m;
    t->call.req.path = t->path;
    if (bearer != NULL) {
        snprintf(t->auth, sizeof t->auth, "%s", bearer);
        t->call.req.authorization = t->auth;
    }
    t->call.req.client_key = 42;
    t->call.wake = tcall_wake;
    api_call_init(&t->call);
}

static inline void tcall_body(struct tcall *t, const struct buf *b)
{
    t->call.req.body = b->data;
    t->call.req.body_len = b->len;
    t->call.req.content_type = "application/x-protobuf";
}

/* Wait (at most timeout_ms) for the next wake(); true if it came. */
static inline bool tcall_wait(struct tcall *t, unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->m);
    while (t->wakes == t->consumed) {
        if (pthread_cond_timedwait(&t->cv, &t->m, &ts) != 0)
            break;
    }
    bool ok = t->wakes > t->consumed;
    if (ok)
        t->consumed++;
    pthread_mutex_unlock(&t->m);
    return ok;
}

/* Drive to completion like the HTTP layer; returns the HTTP status. */
static inline unsigned tcall_run(struct fx *f, struct tcall *t)
{
    enum api_result r = api_handle(f->api, &t->call);
    while (r == API_PENDING) {
        ck_assert_msg(tcall_wait(t, 20000), "pending call never woken");
        r = api_handle(f->api, &t->call);
    }
    return t->call.resp.http_status;
}

static inline void tcall_release(struct fx *f, struct tcall *t)
{
    api_call_release(f->api, &t->call);
    /* exactly one wake per pending round trip */
    ck_assert_int_eq(t->wakes, t->consumed);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->m);
}

/* Decode the Error body of a failed call and check status + code. */
static inline struct wire_error tcall_error(struct tcall *t, unsigned http, sp_status code)
{
    struct wire_error e;
    ck_assert_msg(t->call.resp.http_status == http, "%s: http %u, want %u", t->path,
                  t->call.resp.http_status, http);
    ck_assert_str_eq(t->call.resp.content_type, "application/x-protobuf");
    ck_assert_int_eq(wire_decode_error(&e, t->call.resp.body.data, t->call.resp.body.len), SP_OK);
    ck_assert_msg(e.code == code, "%s: code %s (%s), want %s", t->path, sp_status_name(e.code),
                  e.message, sp_status_name(code));
    return e;
}

/* One request with an optional body; returns the HTTP status. The caller
 * releases t. */
static inline unsigned fx_do(struct fx *f, struct tcall *t, enum api_method m, const char *path,
                             const char *bearer, const struct buf *body)
{
    tcall_init(t, m, path, bearer);
    if (body != NULL)
        tcall_body(t, body);
    return tcall_run(f, t);
}

/* Same, expecting an error; releases t. */
static inline struct wire_error fx_expect_error(struct fx *f, enum api_method m, const char *path,
                                                const char *bearer, const struct buf *body,
                                                unsigned http, sp_status code)
{
    struct tcall t;
    fx_do(f, &t, m, path, bearer, body);
    struct wire_error e = tcall_error(&t, http, code);
    tcall_release(f, &t);
    return e;
}

/* ---- database snapshots: every row of every table, to prove "unchanged" */

static inline char *fx_snapshot(struct fx *f)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL, *rows = NULL;
    struct buf out;
    buf_init(&out, 64u * 1024 * 1024);
    ck_assert_int_eq(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type='table' "
                                        "ORDER BY name",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", (const char *)sqlite3_column_text(q, 0));
        ck_assert_int_eq(buf_printf(&out, "[%s]", (const char *)sqlite3_column_text(q, 0)), SP_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                const void *p = sqlite3_column_blob(rows, c);
                int n = sqlite3_column_bytes(rows, c);
                ck_assert_int_eq(buf_append_u8(&out, '|'), SP_OK);
                if (p != NULL && n > 0)
                    ck_assert_int_eq(buf_append(&out, p, (size_t)n), SP_OK);
            }
            ck_assert_int_eq(buf_append_u8(&out, '\n'), SP_OK);
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    uint8_t h[32];
    ck_assert_int_eq(sp_sha256(h, out.data, out.len, NULL, 0), SP_OK);
    buf_free(&out);
    char *hex = malloc(65);
    ck_assert_int_eq(hex_encode(hex, 65, h, 32), SP_OK);
    return hex;
}

static inline void fx_assert_unchanged(struct fx *f, char *before)
{
    char *after = fx_snapshot(f);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}

/* ---- identities */

struct ident {
    uint8_t pub[SP_PUBKEY_LEN];
    uint8_t priv[SP_PRIVKEY_LEN];
    uint8_t address[SP_ADDRESS_LEN];
    char text[SP_ADDRESS_TEXT_LEN + 1];
    char bearer[8 + SP_TOKEN_TEXT_LEN + 1];
    uint32_t next_prekey;
    uint32_t next_spk;
};

static inline void ident_new(struct fx *f, struct ident *id)
{
    memset(id, 0, sizeof *id);
    ck_assert_int_eq(signal_ctx_identity_generate(f->sig, id->pub, id->priv), SP_OK);
    ck_assert_int_eq(sp_address_derive(id->address, id->pub), SP_OK);
    sp_address_to_text(id->text, id->address);
    id->next_prekey = 1;
    id->next_spk = 1;
}

static inline void fx_sign(struct fx *f, const struct ident *id, uint8_t sig[static 64],
                           const uint8_t *msg, size_t len)
{
    ck_assert_int_eq(signal_ctx_sign(f->sig, sig, id->priv, msg, len), SP_OK);
}

static inline void fx_sign_proof(struct fx *f, const struct ident *id, const char *domain,
                                 const struct buf *payload, uint8_t sig[static 64])
{
    struct buf m;
    buf_init(&m, 1u << 20);
    ck_assert_int_eq(sp_proof_message(&m, domain, payload->data, payload->len), SP_OK);
    fx_sign(f, id, sig, m.data, m.len);
    buf_free(&m);
}

/* A fresh one-time prekey (any valid 33-byte point encoding will do: the
 * relay stores public keys, it never uses them). */
static inline void fx_prekey(struct ident *id, struct wire_prekey *pk)
{
    pk->id = id->next_prekey++;
    pk->public_key[0] = SP_PUBKEY_TYPE;
    ck_assert_int_eq(sp_random(pk->public_key + 1, 32), SP_OK);
}

static inline void fx_signed_prekey(struct fx *f, struct ident *id, struct wire_signed_prekey *spk)
{
    spk->id = id->next_spk++;
    spk->public_key[0] = SP_PUBKEY_TYPE;
    ck_assert_int_eq(sp_random(spk->public_key + 1, 32), SP_OK);
    fx_sign(f, id, spk->signature, spk->public_key, SP_PUBKEY_LEN);
}

/* The RegisterPayload for id with n prekeys at time ts (fresh nonce). */
static inline void fx_register_struct(struct fx *f, struct ident *id, size_t n, uint64_t ts,
                                      struct wire_register *reg)
{
    memset(reg, 0, sizeof *reg);
    memcpy(reg->identity_key, id->pub, SP_PUBKEY_LEN);
    reg->registration_id = 4242;
    reg->device_id = SP_DEVICE_ID;
    fx_signed_prekey(f, id, &reg->signed_prekey);
    reg->n_prekeys = n;
    for (size_t i = 0; i < n; i++)
        fx_prekey(id, &reg->prekeys[i]);
    reg->timestamp = ts;
    ck_assert_int_eq(sp_random(reg->nonce, SP_NONCE_LEN), SP_OK);
}

/* SignedProof body from a payload and signature. */
static inline void fx_proof_body(struct buf *body, const struct buf *payload,
                                 const uint8_t sig[static 64])
{
    buf_init(body, 1u << 20);
    ck_assert_int_eq(wire_encode_signed_proof(body, payload->data, payload->len, sig), SP_OK);
}

static inline void fx_register_body(struct fx *f, struct ident *id, const struct wire_register *reg,
                                    struct buf *body)
{
    struct buf payload;
    uint8_t sig[64];
    buf_init(&payload, 1u << 20);
    ck_assert_int_eq(wire_encode_register_payload(&payload, reg), SP_OK);
    fx_sign_proof(f, id, SP_DOMAIN_REGISTER, &payload, sig);
    fx_proof_body(body, &payload, sig);
    buf_free(&payload);
}

static inline void fx_token_body(struct fx *f, struct ident *id, uint64_t ts, struct buf *body)
{
    struct wire_token_request tr = {.timestamp = ts};
    struct buf payload;
    uint8_t sig[64];
    memcpy(tr.address, id->address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(tr.nonce, SP_NONCE_LEN), SP_OK);
    buf_init(&payload, 4096);
    ck_assert_int_eq(wire_encode_token_payload(&payload, &tr), SP_OK);
    fx_sign_proof(f, id, SP_DOMAIN_TOKEN, &payload, sig);
    fx_proof_body(body, &payload, sig);
    buf_free(&payload);
}

/* Register id with n prekeys and get a token into id->bearer. */
static inline void fx_register(struct fx *f, struct ident *id, size_t n)
{
    struct wire_register reg;
    struct buf body;
    struct tcall t;
    fx_register_struct(f, id, n, atomic_load(&f->now), &reg);
    fx_register_body(f, id, &reg, &body);
    ck_assert_uint_eq(fx_do(f, &t, API_POST, "/v1/register", NULL, &body), 200);
    struct wire_register_response rr;
    ck_assert_int_eq(
        wire_decode_register_response(&rr, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
    ck_assert(memcmp(rr.address, id->address, SP_ADDRESS_LEN) == 0);
    tcall_release(f, &t);
    buf_free(&body);

    fx_token_body(f, id, atomic_load(&f->now), &body);
    ck_assert_uint_eq(fx_do(f, &t, API_POST, "/v1/token", NULL, &body), 200);
    struct wire_token_response tr;
    ck_assert_int_eq(wire_decode_token_response(&tr, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    memcpy(id->bearer, "Bearer ", 7);
    ck_assert_int_eq(base64url_encode(id->bearer + 7, sizeof id->bearer - 7, tr.token, 32), SP_OK);
    sp_wipe(&tr, sizeof tr);
    tcall_release(f, &t);
    buf_free(&body);
}

/* ---- mail */

/* A sealed-looking envelope: version byte + random bytes, len = 49 + bucket. */
static inline uint8_t *fx_content(size_t bucket, size_t *len)
{
    *len = SP_SEAL_OVERHEAD + bucket;
    uint8_t *c = malloc(*len);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sp_random(c, *len), SP_OK);
    c[0] = SP_SEAL_VERSION;
    return c;
}

struct fx_mail {
    size_t n;
    struct wire_out_envelope env[16];
    uint8_t *content[16];
};

static inline void fx_mail_add(struct fx_mail *m, const struct ident *to, size_t bucket)
{
    size_t i = m->n++;
    ck_assert_uint_lt(i, 16);
    memcpy(m->env[i].recipient, to->address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(m->env[i].message_id, SP_MESSAGE_ID_LEN), SP_OK);
    m->content[i] = fx_content(bucket, &m->env[i].content_len);
    m->env[i].content = m->content[i];
}

static inline void fx_mail_free(struct fx_mail *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->content[i]);
    m->n = 0;
}

static inline void fx_mail_body(const struct fx_mail *m, struct buf *body)
{
    buf_init(body, 8u * 1024 * 1024);
    ck_assert_int_eq(wire_encode_send(body, m->env, m->n), SP_OK);
}

/* Pending mail count for an identity, through the store. */
static inline uint32_t fx_pending(struct fx *f, const struct ident *id)
{
    struct store_conn *c = NULL;
    struct store_account a;
    uint32_t n = 0;
    ck_assert_int_eq(store_conn_get(f->store, &c), SP_OK);
    ck_assert_int_eq(store_account_by_address(c, id->address, &a), SP_OK);
    ck_assert_int_eq(store_mail_pending(c, a.id, &n), SP_OK);
    store_conn_put(f->store, c);
    return n;
}

#endif
