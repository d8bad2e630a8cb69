/*
 * test_pruner.c: the retention pruner (server/pruner.c over store_prune) with
 * an injected clock: expiry exactly at each boundary and nothing younger
 * deleted, bounded batches with exact quota counters, idle-account expiry
 * removing every row of the account and killing its cached token at once,
 * the thread (immediate stop, metrics text), and pruning concurrently with
 * sends, fetches and acks through the real API without losing live mail.
 */
#include "api_fixture.h"
#include "server/pruner.h"

#define TTL   (30u * 24 * 3600)
#define GRACE (7u * 24 * 3600)
#define IDLE  (90u * 24 * 3600)

static struct store_retention retention(uint32_t batch)
{
    struct store_retention r = {.envelope_ttl_s = TTL, .signed_prekey_grace_s = GRACE,
                                .account_idle_s = IDLE, .batch = batch};
    return r;
}

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

static int64_t account_id(struct fx *f, const struct ident *id)
{
    struct store_conn *c = NULL;
    struct store_account a;
    ck_assert_int_eq(store_conn_get(f->store, &c), SP_OK);
    sp_status st = store_account_by_address(c, id->address, &a);
    store_conn_put(f->store, c);
    return st == SP_OK ? a.id : 0;
}

/* One envelope for `to` stored directly at time `at`; returns its first 32
 * content bytes' owner id through message_id. */
static void put_mail(struct fx *f, int64_t to, uint64_t at, uint8_t mid[SP_MESSAGE_ID_LEN])
{
    struct store_conn *c = NULL;
    size_t len;
    bool dup = true;
    uint8_t *content = fx_content(256, &len);
    ck_assert_int_eq(sp_random(mid, SP_MESSAGE_ID_LEN), SP_OK);
    ck_assert_int_eq(store_conn_get(f->store, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    ck_assert_int_eq(store_mail_put(c, to, mid, content, len, at, &f->cfg.limits, &dup), SP_OK);
    ck_assert(!dup);
    ck_assert_int_eq(store_commit(c), SP_OK);
    store_conn_put(f->store, c);
    free(content);
}

static struct pruner_counts prune_at(struct fx *f, uint64_t now, uint32_t batch)
{
    struct store_retention r = retention(batch);
    struct pruner_counts n;
    ck_assert_int_eq(pruner_run_once(f->store, &r, now, &n), SP_OK);
    ck_assert(n.checkpoint_complete);
    return n;
}

static int64_t count_mail_id(struct fx *f, const uint8_t mid[SP_MESSAGE_ID_LEN])
{
    char sql[160], hex[33];
    ck_assert_int_eq(hex_encode(hex, sizeof hex, mid, SP_MESSAGE_ID_LEN), SP_OK);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM mail WHERE message_id = x'%s'", hex);
    return raw_int(f->path, sql);
}

/* ------------------------------------------------------------------ boundaries */

START_TEST(test_envelope_ttl_boundary)
{
    struct fx f;
    struct ident b;
    uint8_t old[16], young[16];
    fx_setup(&f, "prune-ttl");
    ident_new(&f, &b);
    fx_register(&f, &b, 0);
    int64_t id = account_id(&f, &b);
    const uint64_t h = store_hour(FX_T0);
    put_mail(&f, id, FX_T0, old);               /* received_hour = h */
    put_mail(&f, id, h + 3600, young);          /* the next hour */

    /* received_hour + ttl <= now: not at ttl - 1 ... */
    struct pruner_counts n = prune_at(&f, h + TTL - 1, 100);
    ck_assert_uint_eq(n.mail, 0);
    ck_assert_int_eq(count_mail_id(&f, old), 1);
    /* ... exactly at ttl, and the younger one (an hour younger) stays */
    n = prune_at(&f, h + TTL, 100);
    ck_assert_uint_eq(n.mail, 1);
    ck_assert_int_eq(count_mail_id(&f, old), 0);
    ck_assert_int_eq(count_mail_id(&f, young), 1);
    n = prune_at(&f, h + 3600 + TTL - 1, 100);
    ck_assert_uint_eq(n.mail, 0);
    ck_assert_int_eq(count_mail_id(&f, young), 1);
    n = prune_at(&f, h + 3600 + TTL + 1, 100);
    ck_assert_uint_eq(n.mail, 1);
    ck_assert_int_eq(count_mail_id(&f, young), 0);
    /* quota counters follow */
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_count + mail_bytes FROM accounts"), 0);
    fx_teardown(&f);
}
END_TEST

START_TEST(test_tokens_and_replay_boundary)
{
    struct fx f;
    struct ident b;
    struct store_conn *c = NULL;
    uint8_t tok[32], key[32];
    fx_setup(&f, "prune-tok");
    ident_new(&f, &b);
    fx_register(&f, &b, 0); /* leaves one token and two replay records */
    int64_t id = account_id(&f, &b);
    const uint64_t exp = store_hour(FX_T0) + 10 * 3600;
    ck_assert_int_eq(sp_random(tok, 32), SP_OK);
    ck_assert_int_eq(sp_random(key, 32), SP_OK);
    ck_assert_int_eq(store_conn_get(f.store, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    ck_assert_int_eq(store_token_put(c, tok, id, exp), SP_OK);
    ck_assert_int_eq(store_replay_put(c, key, exp), SP_OK);
    ck_assert_int_eq(store_commit(c), SP_OK);
    store_conn_put(f.store, c);
    int64_t tokens0 = raw_int(f.path, "SELECT count(*) FROM tokens");
    int64_t replay0 = raw_int(f.path, "SELECT count(*) FROM replay");
    ck_assert_int_eq(tokens0, 2);
    ck_assert_int_eq(replay0, 3);
    uint64_t max_other = (uint64_t)raw_int(
        f.path, "SELECT max(e) FROM (SELECT expires_at e FROM tokens UNION ALL"
                " SELECT expires_at FROM replay)");
    ck_assert_uint_lt(max_other, exp + 1);

    /* Everything that expires before `exp` goes first: prune just before. */
    prune_at(&f, exp - 1, 100);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM tokens WHERE expires_at = "
                                     "(SELECT max(expires_at) FROM tokens)"), 1);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tokens WHERE expires_at = %llu",
             (unsigned long long)exp);
    ck_assert_int_eq(raw_int(f.path, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM replay WHERE expires_at = %llu",
             (unsigned long long)exp);
    ck_assert_int_eq(raw_int(f.path, sql), 1);
    /* expires_at <= now: gone exactly at exp */
    struct pruner_counts n = prune_at(&f, exp, 100);
    ck_assert_uint_eq(n.tokens + n.replay, 2);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM tokens"), 0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM replay"), 0);
    ck_assert_int_ne(account_id(&f, &b), 0); /* the account is not idle yet */
    fx_teardown(&f);
}
END_TEST

START_TEST(test_signed_prekey_grace_boundary)
{
    struct fx f;
    struct ident b;
    struct store_conn *c = NULL;
    struct wire_signed_prekey spk;
    fx_setup(&f, "prune-spk");
    ident_new(&f, &b);
    fx_register(&f, &b, 0); /* signed prekey 1 is current */
    int64_t id = account_id(&f, &b);
    const uint64_t t1 = FX_T0 + 5 * 3600 + 17;
    fx_signed_prekey(&f, &b, &spk); /* id 2 replaces 1 at t1 */
    ck_assert_int_eq(store_conn_get(f.store, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    ck_assert_int_eq(store_signed_prekey_set(c, id, &spk, t1), SP_OK);
    ck_assert_int_eq(store_commit(c), SP_OK);
    store_conn_put(f.store, c);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 2);

    const uint64_t sh = store_hour(t1);
    struct pruner_counts n = prune_at(&f, sh + GRACE - 1, 100);
    ck_assert_uint_eq(n.signed_prekeys, 0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"), 2);
    n = prune_at(&f, sh + GRACE, 100);
    ck_assert_uint_eq(n.signed_prekeys, 1);
    /* the current key is never pruned, however old */
    ck_assert_int_eq(raw_int(f.path, "SELECT key_id FROM signed_prekeys"), 2);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM signed_prekeys"
                                     " WHERE superseded_hour IS NULL"), 1);
    fx_teardown(&f);
}
END_TEST

/* Every row that names the account, in every table that can. */
static int64_t rows_of(struct fx *f, int64_t id)
{
    char sql[512];
    long long v = (long long)id;
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM accounts WHERE id = %lld)"
             " + (SELECT count(*) FROM prekeys WHERE account_id = %lld)"
             " + (SELECT count(*) FROM signed_prekeys WHERE account_id = %lld)"
             " + (SELECT count(*) FROM tokens WHERE account_id = %lld)"
             " + (SELECT count(*) FROM mail WHERE recipient_id = %lld)",
             v, v, v, v, v);
    return raw_int(f->path, sql);
}

START_TEST(test_idle_account_removes_everything)
{
    struct fx f;
    struct ident a, b;
    uint8_t mid[16];
    fx_setup(&f, "prune-idle");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 5);
    int64_t ida = account_id(&f, &a);
    put_mail(&f, ida, FX_T0, mid);
    /* b registers an hour later, so it is younger by exactly one hour */
    fx_advance(&f, 3600);
    fx_register(&f, &b, 5);
    int64_t idb = account_id(&f, &b);
    put_mail(&f, idb, FX_T0 + 3600, mid);
    ck_assert_int_ge(rows_of(&f, ida), 1 + 5 + 1 + 1 + 1);
    int64_t b_rows = rows_of(&f, idb);

    const uint64_t ha = store_hour(FX_T0);
    /* a mail TTL longer than IDLE would not matter: the account takes its mail */
    struct pruner_counts n = prune_at(&f, ha + IDLE - 1, 100);
    ck_assert_uint_eq(n.accounts, 0);
    n = prune_at(&f, ha + IDLE, 100);
    ck_assert_uint_eq(n.accounts, 1);
    ck_assert_int_eq(rows_of(&f, ida), 0);
    ck_assert_int_eq(account_id(&f, &a), 0);
    /* b: idle one hour less; its mail is past the TTL and its token expired,
     * but the account and its keys stay */
    ck_assert_int_eq(b_rows, 1 + 5 + 1 + 1 + 1);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM accounts"), 1);
    ck_assert_int_eq(rows_of(&f, idb), 1 + 5 + 1);
    /* account_idle_s = 0 keeps idle accounts forever */
    struct store_retention keep = retention(100);
    keep.account_idle_s = 0;
    struct pruner_counts m;
    ck_assert_int_eq(pruner_run_once(f.store, &keep, ha + 10 * IDLE, &m), SP_OK);
    ck_assert_uint_eq(m.accounts, 0);
    ck_assert_int_eq(account_id(&f, &b), idb);
    fx_teardown(&f);
}
END_TEST

/* A deleted account's cached bearer token stops working at once: the
 * pruner thread calls api_forget_tokens. Without the hook (control) the
 * cached token would keep working until the next hour boundary. */
static unsigned count_call(struct fx *f, const struct ident *id)
{
    struct tcall t;
    unsigned http = fx_do(f, &t, API_GET, "/v1/prekeys/count", id->bearer, NULL);
    tcall_release(f, &t);
    return http;
}

static void wait_passes(struct pruner *p, uint64_t want)
{
    struct pruner_counts t;
    uint64_t passes = 0;
    for (int i = 0; i < 500; i++) {
        pruner_totals(p, &t, &passes);
        if (passes >= want)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("pruner made %llu passes, want %llu", (unsigned long long)passes,
                 (unsigned long long)want);
}

static void idle_token_case(bool hook)
{
    struct fx f;
    struct ident a;
    struct pruner *p = NULL;
    fx_setup(&f, "prune-tokcache");
    ident_new(&f, &a);
    fx_register(&f, &a, 0);
    ck_assert_uint_eq(count_call(&f, &a), 200); /* the token is now cached */

    struct pruner_options po = {.store = f.store, .clock = &f.clock, .interval_s = 3600,
                                .retention = retention(100)};
    po.retention.account_idle_s = 60; /* shorter than the token's life */
    ck_assert_int_eq(pruner_create(&p, &po), SP_OK);
    if (hook)
        pruner_set_accounts_hook(p, api_forget_tokens, f.api);
    fx_advance(&f, 120); /* same hour: the cache entry is still "valid" */
    if (store_hour(atomic_load(&f.now)) != store_hour(FX_T0))
        ck_abort_msg("test assumes FX_T0 + 120 is in the same hour");
    ck_assert_int_eq(pruner_start(p), SP_OK);
    wait_passes(p, 1);
    struct pruner_counts t;
    pruner_totals(p, &t, NULL);
    ck_assert_uint_eq(t.accounts, 1);
    ck_assert_int_eq(account_id(&f, &a), 0);
    if (hook)
        fx_expect_error(&f, API_GET, "/v1/prekeys/count", a.bearer, NULL, 401,
                        SP_ERR_UNAUTHENTICATED);
    else
        ck_assert_uint_ne(count_call(&f, &a), 401); /* served from the stale cache */
    pruner_destroy(p);
    fx_teardown(&f);
}

START_TEST(test_idle_account_token_dies_at_once)
{
    idle_token_case(true);
}
END_TEST

START_TEST(test_idle_account_token_cache_control)
{
    idle_token_case(false);
}
END_TEST

/* ------------------------------------------------------------------ batches */

START_TEST(test_batches_and_quota)
{
    struct fx f;
    struct ident b;
    uint8_t mid[16];
    fx_setup(&f, "prune-batch");
    ident_new(&f, &b);
    fx_register(&f, &b, 0);
    int64_t id = account_id(&f, &b);
    for (int i = 0; i < 25; i++)
        put_mail(&f, id, FX_T0, mid);
    for (int i = 0; i < 3; i++)
        put_mail(&f, id, FX_T0 + 3600, mid);

    /* one store_prune call is bounded by the batch and says "more" */
    struct store_retention r = retention(4);
    struct store_conn *c = NULL;
    struct store_prune_counts one;
    const uint64_t now = store_hour(FX_T0) + TTL;
    ck_assert_int_eq(store_conn_get(f.store, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    ck_assert_int_eq(store_prune(c, &r, now, &one), SP_OK);
    ck_assert_int_eq(store_commit(c), SP_OK);
    store_conn_put(f.store, c);
    ck_assert_uint_eq(one.mail, 4);
    ck_assert(one.more);

    struct pruner_counts n = prune_at(&f, now, 4);
    ck_assert_uint_eq(n.mail, 21);
    ck_assert_uint_ge(n.batches, 6);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 3);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_count FROM accounts"), 3);
    ck_assert_int_eq(raw_int(f.path, "SELECT mail_bytes FROM accounts"),
                     raw_int(f.path, "SELECT sum(length(content)) FROM mail"));
    /* nothing due: one empty batch */
    n = prune_at(&f, now, 4);
    ck_assert_uint_eq(n.mail + n.tokens + n.replay + n.signed_prekeys + n.accounts, 0);
    ck_assert_uint_eq(n.batches, 1);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------------ thread */

START_TEST(test_thread_stop_and_metrics)
{
    struct fx f;
    struct ident b;
    uint8_t mid[16];
    struct pruner *p = NULL;
    fx_setup(&f, "prune-thread");
    ident_new(&f, &b);
    fx_register(&f, &b, 0);
    for (int i = 0; i < 3; i++)
        put_mail(&f, account_id(&f, &b), FX_T0, mid);

    struct pruner_options po = {.store = f.store, .clock = &f.clock, .interval_s = 3600,
                                .retention = retention(100)};
    ck_assert_int_eq(pruner_create(&p, &po), SP_OK);
    ck_assert_int_eq(pruner_start(p), SP_OK);
    ck_assert_int_eq(pruner_start(p), SP_ERR_USAGE);
    wait_passes(p, 1); /* the pass at start: nothing due yet */
    atomic_store(&f.now, store_hour(FX_T0) + TTL);
    pruner_kick(p);
    wait_passes(p, 2);
    struct pruner_counts t;
    pruner_totals(p, &t, NULL);
    ck_assert_uint_eq(t.mail, 3);

    struct buf m;
    buf_init(&m, 1u << 16);
    ck_assert_int_eq(pruner_metrics_text(p, &m), SP_OK);
    ck_assert_int_eq(buf_append_u8(&m, 0), SP_OK);
    ck_assert_ptr_nonnull(strstr((const char *)m.data, "sealpost_pruned_total{kind=\"envelopes\"} 3\n"));
    ck_assert_ptr_nonnull(strstr((const char *)m.data, "sealpost_prune_passes_total 2\n"));
    buf_free(&m);

    /* stop does not wait out the hour-long interval */
    uint64_t t0 = sp_monotonic_ms();
    pruner_stop(p);
    ck_assert_uint_lt(sp_monotonic_ms() - t0, 1000);
    pruner_stop(p);
    pruner_destroy(p);
    pruner_destroy(NULL);
    fx_teardown(&f);
}
END_TEST

/* GET /metrics renders the pruner's counters through api_options. */
START_TEST(test_metrics_endpoint_has_pruner)
{
    struct fx f;
    struct pruner *p = NULL;
    struct tcall t;
    fx_init(&f, "prune-metrics");
    struct store_options o = {.path = f.path, .pool_size = 4};
    ck_assert_int_eq(store_open(&f.store, &o), SP_OK);
    struct pruner_options po = {.store = f.store, .clock = &f.clock, .interval_s = 3600,
                                .retention = retention(100)};
    ck_assert_int_eq(pruner_create(&p, &po), SP_OK);
    struct api_options ao = {.config = &f.cfg, .store = f.store, .clock = &f.clock,
                             .metrics_extra = pruner_metrics_text, .metrics_extra_ctx = p};
    ck_assert_int_eq(api_create(&f.api, &ao), SP_OK);
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/metrics", NULL, NULL), 200);
    ck_assert_int_eq(buf_append_u8(&t.call.resp.body, 0), SP_OK);
    ck_assert_ptr_nonnull(strstr((const char *)t.call.resp.body.data,
                                 "sealpost_pruned_total{kind=\"accounts\"} 0\n"));
    tcall_release(&f, &t);
    api_shutdown(f.api);
    api_destroy(f.api);
    f.api = NULL;
    pruner_destroy(p);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

#define SENDERS    2
#define PER_SENDER 60

struct sender_arg {
    struct fx *f;
    struct ident *from, *to;
    uint8_t ids[PER_SENDER][SP_MESSAGE_ID_LEN];
};

static void *sender_main(void *arg)
{
    struct sender_arg *s = arg;
    for (int i = 0; i < PER_SENDER; i++) {
        struct fx_mail m = {0};
        struct buf body;
        struct tcall t;
        fx_mail_add(&m, s->to, 256);
        memcpy(s->ids[i], m.env[0].message_id, SP_MESSAGE_ID_LEN);
        fx_mail_body(&m, &body);
        unsigned http = fx_do(s->f, &t, API_POST, "/v1/messages", s->from->bearer, &body);
        ck_assert_uint_eq(http, 200);
        tcall_release(s->f, &t);
        buf_free(&body);
        fx_mail_free(&m);
    }
    return NULL;
}

START_TEST(test_prune_concurrent_with_send_fetch_ack)
{
    struct fx f;
    struct ident a, b, old;
    struct pruner *p = NULL;
    uint8_t mid[16];
    fx_setup(&f, "prune-conc");
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &old);
    fx_register(&f, &old, 0);
    int64_t idold = account_id(&f, &old);
    for (int i = 0; i < 300; i++) /* expired by the time the senders run */
        put_mail(&f, idold, FX_T0, mid);
    atomic_store(&f.now, store_hour(FX_T0) + TTL + 1800);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);

    struct pruner_options po = {.store = f.store, .clock = &f.clock, .interval_s = 1,
                                .retention = retention(3)}; /* many small batches */
    ck_assert_int_eq(pruner_create(&p, &po), SP_OK);
    ck_assert_int_eq(pruner_start(p), SP_OK);

    struct sender_arg sa[SENDERS];
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        sa[i] = (struct sender_arg){.f = &f, .from = &a, .to = &b};
        ck_assert_int_eq(pthread_create(&th[i], NULL, sender_main, &sa[i]), 0);
    }
    /* fetch and ack while the senders and the pruner run */
    size_t acked = 0, fetched_total = 0;
    uint8_t (*seen)[SP_MESSAGE_ID_LEN] = calloc(SENDERS * PER_SENDER, SP_MESSAGE_ID_LEN);
    ck_assert_ptr_nonnull(seen);
    for (int round = 0; round < 400 && acked < SENDERS * PER_SENDER; round++) {
        struct wire_fetch page;
        struct tcall t;
        ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/messages", b.bearer, NULL), 200);
        ck_assert_int_eq(
            wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len), SP_OK);
        tcall_release(&f, &t);
        fetched_total += page.n;
        if (page.n > 0) {
            uint8_t(*ids)[SP_MESSAGE_ID_LEN] = calloc(page.n, SP_MESSAGE_ID_LEN);
            for (size_t k = 0; k < page.n; k++) {
                memcpy(ids[k], page.envelopes[k].message_id, SP_MESSAGE_ID_LEN);
                memcpy(seen[acked + k], ids[k], SP_MESSAGE_ID_LEN);
            }
            struct buf body;
            buf_init(&body, 1u << 20);
            ck_assert_int_eq(wire_encode_ack(&body, (const uint8_t(*)[16])ids, page.n), SP_OK);
            uint32_t deleted = 0;
            ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/messages/ack", b.bearer, &body), 200);
            ck_assert_int_eq(
                wire_decode_ack_response(&deleted, t.call.resp.body.data, t.call.resp.body.len),
                SP_OK);
            tcall_release(&f, &t);
            ck_assert_uint_eq(deleted, page.n);
            acked += page.n;
            buf_free(&body);
            free(ids);
        } else {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
        wire_fetch_free(&page);
    }
    for (int i = 0; i < SENDERS; i++)
        pthread_join(th[i], NULL);
    /* whatever was not acked yet is still pending */
    uint32_t pending = fx_pending(&f, &b);
    ck_assert_uint_eq(acked + pending, SENDERS * PER_SENDER);
    ck_assert_uint_eq(fetched_total, acked);
    /* every message id a sender got 200 for was delivered exactly once */
    for (int i = 0; i < SENDERS; i++)
        for (int k = 0; k < PER_SENDER; k++) {
            bool found = count_mail_id(&f, sa[i].ids[k]) == 1;
            for (size_t j = 0; j < acked && !found; j++)
                found = memcmp(seen[j], sa[i].ids[k], SP_MESSAGE_ID_LEN) == 0;
            ck_assert_msg(found, "live envelope %d/%d lost", i, k);
        }
    pruner_kick(p);
    uint64_t passes = 0;
    struct pruner_counts t;
    pruner_totals(p, &t, &passes);
    wait_passes(p, passes + 1);
    pruner_totals(p, &t, NULL);
    ck_assert_uint_eq(t.mail, 300);
    ck_assert_uint_gt(t.batches, 100);
    pruner_destroy(p);
    free(seen);
    fx_teardown(&f);
}
END_TEST

static Suite *pruner_suite(void)
{
    Suite *s = suite_create("pruner");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_envelope_ttl_boundary);
    tcase_add_test(tc, test_tokens_and_replay_boundary);
    tcase_add_test(tc, test_signed_prekey_grace_boundary);
    tcase_add_test(tc, test_idle_account_removes_everything);
    tcase_add_test(tc, test_idle_account_token_dies_at_once);
    tcase_add_test(tc, test_idle_account_token_cache_control);
    tcase_add_test(tc, test_batches_and_quota);
    tcase_add_test(tc, test_thread_stop_and_metrics);
    tcase_add_test(tc, test_metrics_endpoint_has_pruner);
    tcase_add_test(tc, test_prune_concurrent_with_send_fetch_ack);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(pruner_suite());
}
