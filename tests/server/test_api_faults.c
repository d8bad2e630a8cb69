/*
 * test_api_faults.c: failure injection under the relay API, SQLite style.
 *
 * The store is opened with store_open_with() and a test backend that wraps
 * the real SQLite ops (store_sqlite_ops): every op counts its calls and can
 * be told to fail its next call(s) with a chosen status, either before the
 * real op runs or after it has written (so rollback is what keeps the
 * database clean, not an early return). BEGIN can also be held on a condvar,
 * which parks the writer thread so that several requests queue up and are
 * run as one group commit.
 *
 * What every case asserts: the HTTP status comes from the status table
 * (500 for SP_ERR_IO, 503 + Retry-After for SP_ERR_UNAVAILABLE) with a
 * protobuf Error body; the database is byte-for-byte unchanged (every row of
 * every table); the writer keeps serving (the same request succeeds once the
 * fault is cleared); one job's failure inside a group commit touches no
 * other job; a failed COMMIT fails every job of its batch. Infrastructure
 * failures during bearer or proof checks never turn into 401.
 *
 * Thread rules: the fault table is shared between the test thread, the
 * writer thread and (for reads) the test thread through the API; one mutex
 * guards it. No globals: the table is the backend state of the store.
 */
#include "api_fixture.h"

#include "server/store/store_backend.h"

/* ------------------------------------------------------------ fault backend */

enum fop {
    F_BEGIN,
    F_COMMIT,
    F_SAVEPOINT,
    F_RELEASE,
    F_ACCOUNT_REGISTER,
    F_ACCOUNT_BY_ADDRESS,
    F_ACCOUNT_BY_ID,
    F_ACCOUNT_TOUCH,
    F_PREKEYS_ADD,
    F_PREKEYS_COUNT,
    F_SIGNED_PREKEY_SET,
    F_BUNDLE_TAKE,
    F_TOKEN_PUT,
    F_TOKEN_LOOKUP,
    F_REPLAY_PUT,
    F_MAIL_PUT,
    F_MAIL_FETCH,
    F_MAIL_ACK,
    F_MAIL_PENDING,
    F_COUNT
};

static const char *const fop_name[F_COUNT] = {
    [F_BEGIN] = "begin",
    [F_COMMIT] = "commit",
    [F_SAVEPOINT] = "savepoint",
    [F_RELEASE] = "release",
    [F_ACCOUNT_REGISTER] = "account_register",
    [F_ACCOUNT_BY_ADDRESS] = "account_by_address",
    [F_ACCOUNT_BY_ID] = "account_by_id",
    [F_ACCOUNT_TOUCH] = "account_touch",
    [F_PREKEYS_ADD] = "prekeys_add",
    [F_PREKEYS_COUNT] = "prekeys_count",
    [F_SIGNED_PREKEY_SET] = "signed_prekey_set",
    [F_BUNDLE_TAKE] = "bundle_take",
    [F_TOKEN_PUT] = "token_put",
    [F_TOKEN_LOOKUP] = "token_lookup",
    [F_REPLAY_PUT] = "replay_put",
    [F_MAIL_PUT] = "mail_put",
    [F_MAIL_FETCH] = "mail_fetch",
    [F_MAIL_ACK] = "mail_ack",
    [F_MAIL_PENDING] = "mail_pending",
};

struct fault_rule {
    sp_status err; /* SP_OK: rule off */
    unsigned skip; /* calls to let through first */
    int fail;      /* calls to fail after that; -1 = every one */
    bool after;    /* run the real op first, then report err */
};

struct faults {
    const struct store_ops *inner;
    void *inner_state;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fault_rule rule[F_COUNT];
    unsigned calls[F_COUNT];
    unsigned injected[F_COUNT];
    bool hold_begin;    /* BEGIN waits while set */
    bool begin_waiting; /* the writer is parked in BEGIN */
};

static struct faults *faults_of(struct store_conn *c)
{
    return store_backend_state(c->store);
}

/* Count the call; the status to inject (SP_OK: none) and whether to run the
 * real op first. */
static sp_status fault_enter(struct store_conn *c, enum fop op, bool *after)
{
    struct faults *f = faults_of(c);
    sp_status st = SP_OK;
    pthread_mutex_lock(&f->mu);
    f->calls[op]++;
    struct fault_rule *r = &f->rule[op];
    if (r->err != SP_OK) {
        if (r->skip > 0) {
            r->skip--;
        } else if (r->fail != 0) {
            if (r->fail > 0)
                r->fail--;
            st = r->err;
            *after = r->after;
            f->injected[op]++;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

/* Inject before (return the fault) or after (run the op, then fail). */
#define FAULTED(op, real_call)                                                                     \
    do {                                                                                           \
        bool after_ = false;                                                                       \
        sp_status inj_ = fault_enter(c, (op), &after_);                                            \
        if (inj_ != SP_OK && !after_)                                                              \
            return inj_;                                                                           \
        sp_status real_ = (real_call);                                                             \
        return inj_ != SP_OK ? inj_ : real_;                                                       \
    } while (0)

static sp_status w_open(void **backend, int *version, const struct store_options *opt)
{
    struct faults *f = calloc(1, sizeof *f);
    if (f == NULL)
        return SP_ERR_NOMEM;
    f->inner = &store_sqlite_ops;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    sp_status st = f->inner->open(&f->inner_state, version, opt);
    if (st != SP_OK) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return st;
    }
    *backend = f;
    return SP_OK;
}

static void w_close(void *backend)
{
    struct faults *f = backend;
    if (f == NULL)
        return;
    f->inner->close(f->inner_state);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static sp_status w_conn_open(void *backend, struct store_conn **out)
{
    struct faults *f = backend;
    return f->inner->conn_open(f->inner_state, out);
}

static void w_conn_close(struct store_conn *c)
{
    store_sqlite_ops.conn_close(c);
}

static sp_status w_begin(struct store_conn *c)
{
    struct faults *f = faults_of(c);
    pthread_mutex_lock(&f->mu);
    while (f->hold_begin) {
        f->begin_waiting = true;
        pthread_cond_broadcast(&f->cv);
        pthread_cond_wait(&f->cv, &f->mu);
    }
    f->begin_waiting = false;
    pthread_mutex_unlock(&f->mu);
    FAULTED(F_BEGIN, store_sqlite_ops.begin(c));
}

static sp_status w_commit(struct store_conn *c)
{
    FAULTED(F_COMMIT, store_sqlite_ops.commit(c));
}

static void w_rollback(struct store_conn *c)
{
    store_sqlite_ops.rollback(c);
}

static sp_status w_savepoint(struct store_conn *c)
{
    FAULTED(F_SAVEPOINT, store_sqlite_ops.savepoint(c));
}

static sp_status w_release(struct store_conn *c)
{
    FAULTED(F_RELEASE, store_sqlite_ops.release(c));
}

static void w_rollback_to(struct store_conn *c)
{
    store_sqlite_ops.rollback_to(c);
}

static sp_status w_account_register(struct store_conn *c, const struct wire_register *reg,
                                    const uint8_t address[static SP_ADDRESS_LEN], uint64_t now,
                                    uint32_t max_prekeys, bool *created, int64_t *account_id)
{
    FAULTED(F_ACCOUNT_REGISTER, store_sqlite_ops.account_register(c, reg, address, now, max_prekeys,
                                                                  created, account_id));
}

static sp_status w_account_by_address(struct store_conn *c,
                                      const uint8_t address[static SP_ADDRESS_LEN],
                                      struct store_account *out)
{
    FAULTED(F_ACCOUNT_BY_ADDRESS, store_sqlite_ops.account_by_address(c, address, out));
}

static sp_status w_account_by_id(struct store_conn *c, int64_t id, struct store_account *out)
{
    FAULTED(F_ACCOUNT_BY_ID, store_sqlite_ops.account_by_id(c, id, out));
}

static sp_status w_account_touch(struct store_conn *c, int64_t id, uint64_t now)
{
    FAULTED(F_ACCOUNT_TOUCH, store_sqlite_ops.account_touch(c, id, now));
}

static sp_status w_prekeys_add(struct store_conn *c, int64_t account,
                               const struct wire_prekey *pk, size_t n, uint32_t max_total,
                               uint64_t now, uint32_t *count_after)
{
    FAULTED(F_PREKEYS_ADD,
            store_sqlite_ops.prekeys_add(c, account, pk, n, max_total, now, count_after));
}

static sp_status w_prekeys_count(struct store_conn *c, int64_t account, uint32_t *count)
{
    FAULTED(F_PREKEYS_COUNT, store_sqlite_ops.prekeys_count(c, account, count));
}

static sp_status w_signed_prekey_set(struct store_conn *c, int64_t account,
                                     const struct wire_signed_prekey *spk, uint64_t now)
{
    FAULTED(F_SIGNED_PREKEY_SET, store_sqlite_ops.signed_prekey_set(c, account, spk, now));
}

static sp_status w_bundle_take(struct store_conn *c, int64_t target, struct wire_bundle *out)
{
    FAULTED(F_BUNDLE_TAKE, store_sqlite_ops.bundle_take(c, target, out));
}

static sp_status w_token_put(struct store_conn *c, const uint8_t hash[static 32], int64_t account,
                             uint64_t expires_at)
{
    FAULTED(F_TOKEN_PUT, store_sqlite_ops.token_put(c, hash, account, expires_at));
}

static sp_status w_token_lookup(struct store_conn *c, const uint8_t hash[static 32], uint64_t now,
                                int64_t *account)
{
    FAULTED(F_TOKEN_LOOKUP, store_sqlite_ops.token_lookup(c, hash, now, account));
}

static sp_status w_replay_put(struct store_conn *c, const uint8_t key[static 32],
                              uint64_t expires_at)
{
    FAULTED(F_REPLAY_PUT, store_sqlite_ops.replay_put(c, key, expires_at));
}

static sp_status w_mail_put(struct store_conn *c, int64_t recipient,
                            const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                            const uint8_t *content, size_t len, uint64_t now,
                            const struct sp_limits *lim, bool *duplicate)
{
    FAULTED(F_MAIL_PUT, store_sqlite_ops.mail_put(c, recipient, message_id, content, len, now, lim,
                                                  duplicate));
}

static sp_status w_mail_fetch(struct store_conn *c, int64_t account, uint64_t after,
                              uint32_t limit, size_t max_bytes, struct store_mail_page *out)
{
    FAULTED(F_MAIL_FETCH, store_sqlite_ops.mail_fetch(c, account, after, limit, max_bytes, out));
}

static sp_status w_mail_ack(struct store_conn *c, int64_t account,
                            const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted)
{
    FAULTED(F_MAIL_ACK, store_sqlite_ops.mail_ack(c, account, ids, n, deleted));
}

static sp_status w_mail_pending(struct store_conn *c, int64_t account, uint32_t *count)
{
    FAULTED(F_MAIL_PENDING, store_sqlite_ops.mail_pending(c, account, count));
}

static sp_status w_prune(struct store_conn *c, const struct store_retention *r, uint64_t now,
                         struct store_prune_counts *out)
{
    return store_sqlite_ops.prune(c, r, now, out);
}

static sp_status w_checkpoint(struct store_conn *c, bool *complete)
{
    return store_sqlite_ops.checkpoint(c, complete);
}

static sp_status w_audit(struct store_conn *c, struct store_audit *out)
{
    return store_sqlite_ops.audit(c, out);
}

static const struct store_ops fault_ops = {
    .name = "sqlite+faults",
    .open = w_open,
    .close = w_close,
    .conn_open = w_conn_open,
    .conn_close = w_conn_close,
    .begin = w_begin,
    .commit = w_commit,
    .rollback = w_rollback,
    .savepoint = w_savepoint,
    .release = w_release,
    .rollback_to = w_rollback_to,
    .account_register = w_account_register,
    .account_by_address = w_account_by_address,
    .account_by_id = w_account_by_id,
    .account_touch = w_account_touch,
    .prekeys_add = w_prekeys_add,
    .prekeys_count = w_prekeys_count,
    .signed_prekey_set = w_signed_prekey_set,
    .bundle_take = w_bundle_take,
    .token_put = w_token_put,
    .token_lookup = w_token_lookup,
    .replay_put = w_replay_put,
    .mail_put = w_mail_put,
    .mail_fetch = w_mail_fetch,
    .mail_ack = w_mail_ack,
    .mail_pending = w_mail_pending,
    .prune = w_prune,
    .checkpoint = w_checkpoint,
    .audit = w_audit,
    .audit_detail = NULL,
};

/* ------------------------------------------------------------ fixture glue */

static struct faults *ff_start(struct fx *f)
{
    struct store_options o = {
        .path = f->path, .sync = STORE_SYNC_NORMAL, .pool_size = 6, .busy_timeout_ms = 5000};
    f->cfg.limits.bundle_fetches_per_target = 1000;
    ck_assert_int_eq(store_open_with(&f->store, &fault_ops, &o), SP_OK);
    struct api_options ao = {.config = &f->cfg, .store = f->store, .clock = &f->clock};
    ck_assert_int_eq(api_create(&f->api, &ao), SP_OK);
    return store_backend_state(f->store);
}

static struct faults *ff_setup(struct fx *f, const char *tag)
{
    fx_init(f, tag);
    return ff_start(f);
}

static void ff_set(struct faults *g, enum fop op, sp_status err, unsigned skip, int fail,
                   bool after)
{
    pthread_mutex_lock(&g->mu);
    g->rule[op] = (struct fault_rule){.err = err, .skip = skip, .fail = fail, .after = after};
    pthread_mutex_unlock(&g->mu);
}

static void ff_clear(struct faults *g)
{
    pthread_mutex_lock(&g->mu);
    memset(g->rule, 0, sizeof g->rule);
    pthread_mutex_unlock(&g->mu);
}

static unsigned ff_calls(struct faults *g, enum fop op)
{
    pthread_mutex_lock(&g->mu);
    unsigned n = g->calls[op];
    pthread_mutex_unlock(&g->mu);
    return n;
}

static unsigned ff_injected(struct faults *g, enum fop op)
{
    pthread_mutex_lock(&g->mu);
    unsigned n = g->injected[op];
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* Park the writer in its next BEGIN; returns once it is parked. `first` is
 * the call that makes it start a batch (already initialised, not run). */
static void ff_hold_writer(struct fx *f, struct faults *g, struct tcall *first)
{
    pthread_mutex_lock(&g->mu);
    g->hold_begin = true;
    pthread_mutex_unlock(&g->mu);
    ck_assert_int_eq(api_handle(f->api, &first->call), API_PENDING);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    while (!g->begin_waiting) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
            break;
    }
    bool parked = g->begin_waiting;
    pthread_mutex_unlock(&g->mu);
    ck_assert_msg(parked, "writer never reached BEGIN");
}

static void ff_release_writer(struct faults *g)
{
    pthread_mutex_lock(&g->mu);
    g->hold_begin = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Finish a call that api_handle() already answered API_PENDING for. */
static unsigned ff_finish(struct fx *f, struct tcall *t)
{
    enum api_result r = API_PENDING;
    while (r == API_PENDING) {
        ck_assert_msg(tcall_wait(t, 20000), "pending call never woken");
        r = api_handle(f->api, &t->call);
    }
    return t->call.resp.http_status;
}

/* The answer every injected status must give: its HTTP status, a protobuf
 * Error with that code, and Retry-After on a 503. */
static void expect_fault_reply(struct tcall *t, sp_status err)
{
    unsigned http = err == SP_ERR_UNAVAILABLE ? 503 : 500;
    struct wire_error e = tcall_error(t, http, err);
    if (http == 503) {
        ck_assert_uint_gt(t->call.resp.retry_after_s, 0);
        ck_assert_uint_gt(e.retry_after_s, 0);
    } else {
        ck_assert_uint_eq(t->call.resp.retry_after_s, 0);
    }
}

/* One request with a fault armed: the fault fires, the reply is right and
 * the database did not change. Then the same request, fault cleared, must
 * answer want_ok (the writer still serves, and nothing the failed attempt
 * did, such as burning a proof's nonce, survived). */
static void fault_then_ok(struct fx *f, struct faults *g, enum api_method m, const char *path,
                          const char *bearer, const struct buf *body, enum fop op, sp_status err,
                          unsigned skip, bool after, unsigned want_ok)
{
    struct tcall t;
    char *snap = fx_snapshot(f);
    unsigned before = ff_injected(g, op);
    ff_set(g, op, err, skip, 1, after);
    fx_do(f, &t, m, path, bearer, body);
    ck_assert_msg(ff_injected(g, op) == before + 1, "%s %s: fault on %s never fired", path,
                  sp_status_name(err), fop_name[op]);
    expect_fault_reply(&t, err);
    tcall_release(f, &t);
    ff_clear(g);
    fx_assert_unchanged(f, snap);

    unsigned http = fx_do(f, &t, m, path, bearer, body);
    ck_assert_msg(http == want_ok, "%s after %s on %s: http %u, want %u", path,
                  sp_status_name(err), fop_name[op], http, want_ok);
    tcall_release(f, &t);
}

static const sp_status infra_errors[] = {SP_ERR_IO, SP_ERR_UNAVAILABLE};
#define N_INFRA (sizeof infra_errors / sizeof infra_errors[0])

static struct wire_fetch fetch_all(struct fx *f, const struct ident *who)
{
    struct tcall t;
    struct wire_fetch page;
    ck_assert_uint_eq(fx_do(f, &t, API_GET, "/v1/messages", who->bearer, NULL), 200);
    ck_assert_int_eq(wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    tcall_release(f, &t);
    return page;
}

static bool page_has(const struct wire_fetch *p, const uint8_t id[static SP_MESSAGE_ID_LEN])
{
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(p->envelopes[i].message_id, id, SP_MESSAGE_ID_LEN) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ send */

START_TEST(test_send_every_op_fails_cleanly)
{
    struct fx f;
    struct ident a, b, c;
    struct faults *g = ff_setup(&f, "faults-send");
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &c);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    fx_register(&f, &c, 0);

    /* Two envelopes, two recipients: skip = 1 makes the second of each
     * per-envelope op fail, after the first one has written. */
    static const struct {
        enum fop op;
        unsigned skip;
        bool after;
    } cases[] = {
        {F_BEGIN, 0, false},      {F_SAVEPOINT, 0, false},         {F_ACCOUNT_BY_ADDRESS, 0, false},
        {F_ACCOUNT_BY_ADDRESS, 1, false}, {F_MAIL_PUT, 0, false},  {F_MAIL_PUT, 1, false},
        {F_MAIL_PUT, 1, true},    {F_MAIL_PUT, 0, true},           {F_RELEASE, 0, false},
        {F_COMMIT, 0, false},
    };
    uint32_t stored = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t k = 0; k < N_INFRA; k++) {
            struct fx_mail m = {0};
            struct buf body;
            fx_mail_add(&m, &b, 256);
            fx_mail_add(&m, &c, 512);
            fx_mail_body(&m, &body);
            fault_then_ok(&f, g, API_POST, "/v1/messages", a.bearer, &body, cases[i].op,
                          infra_errors[k], cases[i].skip, cases[i].after, 200);
            stored++;
            ck_assert_uint_eq(fx_pending(&f, &b), stored);
            ck_assert_uint_eq(fx_pending(&f, &c), stored);
            buf_free(&body);
            fx_mail_free(&m);
        }
    }
    fx_teardown(&f);
}
END_TEST

/* Six sends in one group commit (a parked writer lets them queue); the
 * third one's op fails: it alone answers the error, the other five are
 * stored and answered 200, and it was one transaction. */
static void one_job_fails_in_batch(enum fop op, unsigned skip, bool after, sp_status err)
{
    struct fx f;
    struct ident a, b;
    struct faults *g = ff_setup(&f, "faults-batch");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);

    /* The blocker: an ack of an unknown id (changes nothing). */
    uint8_t unknown[1][SP_MESSAGE_ID_LEN];
    struct buf ack_body;
    ck_assert_int_eq(sp_random(unknown[0], SP_MESSAGE_ID_LEN), SP_OK);
    buf_init(&ack_body, 4096);
    ck_assert_int_eq(wire_encode_ack(&ack_body, (const uint8_t(*)[SP_MESSAGE_ID_LEN])unknown, 1),
                     SP_OK);
    struct tcall blocker;
    tcall_init(&blocker, API_POST, "/v1/messages/ack", b.bearer);
    tcall_body(&blocker, &ack_body);
    unsigned begins = ff_calls(g, F_BEGIN);
    ff_hold_writer(&f, g, &blocker);

    enum { N = 6, BAD = 2 };
    struct fx_mail m[N];
    struct buf body[N];
    struct tcall t[N];
    for (size_t i = 0; i < N; i++) {
        memset(&m[i], 0, sizeof m[i]);
        fx_mail_add(&m[i], &b, 256);
        fx_mail_body(&m[i], &body[i]);
        tcall_init(&t[i], API_POST, "/v1/messages", a.bearer);
        tcall_body(&t[i], &body[i]);
        ck_assert_int_eq(api_handle(f.api, &t[i].call), API_PENDING);
    }
    ff_set(g, op, err, skip, 1, after);
    ff_release_writer(g);
    ck_assert_uint_eq(ff_finish(&f, &blocker), 200);
    tcall_release(&f, &blocker);
    for (size_t i = 0; i < N; i++) {
        unsigned http = ff_finish(&f, &t[i]);
        if (i == BAD) {
            expect_fault_reply(&t[i], err);
        } else {
            ck_assert_msg(http == 200, "send %zu: http %u", i, http);
            struct wire_send_response r;
            ck_assert_int_eq(wire_decode_send_response(&r, t[i].call.resp.body.data,
                                                       t[i].call.resp.body.len),
                             SP_OK);
            ck_assert_uint_eq(r.stored, 1);
        }
        tcall_release(&f, &t[i]);
    }
    ck_assert_uint_eq(ff_injected(g, op), 1);
    /* blocker batch + one batch for all six */
    ck_assert_uint_eq(ff_calls(g, F_BEGIN) - begins, 2);
    ff_clear(g);

    struct wire_fetch page = fetch_all(&f, &b);
    ck_assert_uint_eq(page.n, N - 1);
    for (size_t i = 0; i < N; i++)
        ck_assert(page_has(&page, m[i].env[0].message_id) == (i != BAD));
    wire_fetch_free(&page);

    /* the failed one can simply be sent again */
    ck_assert_uint_eq(fx_do(&f, &t[0], API_POST, "/v1/messages", a.bearer, &body[BAD]), 200);
    tcall_release(&f, &t[0]);
    ck_assert_uint_eq(fx_pending(&f, &b), N);
    for (size_t i = 0; i < N; i++) {
        buf_free(&body[i]);
        fx_mail_free(&m[i]);
    }
    buf_free(&ack_body);
    fx_teardown(&f);
}

/* Ops per send: one savepoint, one account_by_address, one mail_put, one
 * release. The blocker (ack) has a savepoint and a release of its own. */
START_TEST(test_batch_one_mail_put_fails)
{
    one_job_fails_in_batch(F_MAIL_PUT, 2, false, SP_ERR_IO);
}
END_TEST

START_TEST(test_batch_one_mail_put_fails_after_write)
{
    one_job_fails_in_batch(F_MAIL_PUT, 2, true, SP_ERR_UNAVAILABLE);
}
END_TEST

START_TEST(test_batch_one_savepoint_fails)
{
    one_job_fails_in_batch(F_SAVEPOINT, 3, false, SP_ERR_IO);
}
END_TEST

START_TEST(test_batch_one_release_fails)
{
    one_job_fails_in_batch(F_RELEASE, 3, false, SP_ERR_UNAVAILABLE);
}
END_TEST

START_TEST(test_batch_one_lookup_fails)
{
    one_job_fails_in_batch(F_ACCOUNT_BY_ADDRESS, 2, false, SP_ERR_IO);
}
END_TEST

/* A failed COMMIT fails every job of the batch and stores nothing; the
 * writer then goes on with the next batch. */
START_TEST(test_batch_commit_fails_all)
{
    struct fx f;
    struct ident a, b, c;
    struct faults *g = ff_setup(&f, "faults-commit");
    ident_new(&f, &a);
    ident_new(&f, &b);
    ident_new(&f, &c);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    fx_register(&f, &c, 0);

    uint8_t unknown[1][SP_MESSAGE_ID_LEN];
    struct buf ack_body;
    ck_assert_int_eq(sp_random(unknown[0], SP_MESSAGE_ID_LEN), SP_OK);
    buf_init(&ack_body, 4096);
    ck_assert_int_eq(wire_encode_ack(&ack_body, (const uint8_t(*)[SP_MESSAGE_ID_LEN])unknown, 1),
                     SP_OK);
    char *snap = fx_snapshot(&f);
    struct tcall blocker;
    tcall_init(&blocker, API_POST, "/v1/messages/ack", b.bearer);
    tcall_body(&blocker, &ack_body);
    ff_hold_writer(&f, g, &blocker);

    enum { N = 5 };
    struct fx_mail m[N];
    struct buf body[N];
    struct tcall t[N];
    for (size_t i = 0; i < N; i++) {
        memset(&m[i], 0, sizeof m[i]);
        fx_mail_add(&m[i], i % 2 ? &b : &c, 256);
        fx_mail_add(&m[i], &b, 1024);
        fx_mail_body(&m[i], &body[i]);
        tcall_init(&t[i], API_POST, "/v1/messages", a.bearer);
        tcall_body(&t[i], &body[i]);
        ck_assert_int_eq(api_handle(f.api, &t[i].call), API_PENDING);
    }
    /* also a token request in the same doomed batch */
    struct buf tok_body;
    fx_token_body(&f, &c, atomic_load(&f.now), &tok_body);
    struct tcall tok;
    tcall_init(&tok, API_POST, "/v1/token", NULL);
    tcall_body(&tok, &tok_body);
    ck_assert_int_eq(api_handle(f.api, &tok.call), API_PENDING);

    ff_set(g, F_COMMIT, SP_ERR_IO, 1, 1, false); /* the blocker's commit passes */
    ff_release_writer(g);
    ck_assert_uint_eq(ff_finish(&f, &blocker), 200);
    tcall_release(&f, &blocker);
    for (size_t i = 0; i < N; i++) {
        ff_finish(&f, &t[i]);
        expect_fault_reply(&t[i], SP_ERR_IO);
        tcall_release(&f, &t[i]);
    }
    ff_finish(&f, &tok);
    expect_fault_reply(&tok, SP_ERR_IO);
    tcall_release(&f, &tok);
    ck_assert_uint_eq(ff_injected(g, F_COMMIT), 1);
    fx_assert_unchanged(&f, snap);
    ck_assert_uint_eq(fx_pending(&f, &b), 0);
    ck_assert_uint_eq(fx_pending(&f, &c), 0);

    /* writer alive: every request goes through now, the token proof too
     * (its nonce was not burned by the failed batch) */
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_eq(fx_do(&f, &t[i], API_POST, "/v1/messages", a.bearer, &body[i]), 200);
        tcall_release(&f, &t[i]);
    }
    ck_assert_uint_eq(fx_do(&f, &tok, API_POST, "/v1/token", NULL, &tok_body), 200);
    tcall_release(&f, &tok);
    ck_assert_uint_eq(fx_pending(&f, &b), N + N / 2);
    ck_assert_uint_eq(fx_pending(&f, &c), N - N / 2);
    for (size_t i = 0; i < N; i++) {
        buf_free(&body[i]);
        fx_mail_free(&m[i]);
    }
    buf_free(&tok_body);
    buf_free(&ack_body);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------ account writes */

START_TEST(test_register_faults)
{
    struct fx f;
    struct faults *g = ff_setup(&f, "faults-register");
    static const struct {
        enum fop op;
        bool after;
    } cases[] = {
        {F_BEGIN, false},          {F_SAVEPOINT, false}, {F_REPLAY_PUT, false},
        {F_REPLAY_PUT, true},      {F_ACCOUNT_REGISTER, false}, {F_ACCOUNT_REGISTER, true},
        {F_RELEASE, false},        {F_COMMIT, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t k = 0; k < N_INFRA; k++) {
            struct ident a;
            struct wire_register reg;
            struct buf body;
            ident_new(&f, &a);
            fx_register_struct(&f, &a, 5, atomic_load(&f.now), &reg);
            fx_register_body(&f, &a, &reg, &body);
            /* the same proof succeeds afterwards: its replay record was
             * rolled back with everything else */
            fault_then_ok(&f, g, API_POST, "/v1/register", NULL, &body, cases[i].op,
                          infra_errors[k], 0, cases[i].after, 200);
            buf_free(&body);
        }
    }
    fx_teardown(&f);
}
END_TEST

START_TEST(test_token_faults)
{
    struct fx f;
    struct ident a;
    struct faults *g = ff_setup(&f, "faults-token");
    ident_new(&f, &a);
    fx_register(&f, &a, 0);
    /* The account read that precedes the signature check is a read: a
     * failure there is 500/503, never the 401 of an unknown address. */
    static const struct {
        enum fop op;
        bool after;
    } cases[] = {
        {F_ACCOUNT_BY_ADDRESS, false}, {F_REPLAY_PUT, false}, {F_REPLAY_PUT, true},
        {F_TOKEN_PUT, false},          {F_TOKEN_PUT, true},   {F_ACCOUNT_TOUCH, false},
        {F_ACCOUNT_TOUCH, true},       {F_COMMIT, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t k = 0; k < N_INFRA; k++) {
            struct buf body;
            fx_advance(&f, 3600); /* a new activity hour: the touch writes */
            fx_token_body(&f, &a, atomic_load(&f.now), &body);
            fault_then_ok(&f, g, API_POST, "/v1/token", NULL, &body, cases[i].op,
                          infra_errors[k], 0, cases[i].after, 200);
            buf_free(&body);
        }
    }
    fx_teardown(&f);
}
END_TEST

START_TEST(test_prekey_and_spk_faults)
{
    struct fx f;
    struct ident a;
    struct faults *g = ff_setup(&f, "faults-prekeys");
    ident_new(&f, &a);
    fx_register(&f, &a, 1);
    for (size_t k = 0; k < N_INFRA; k++) {
        for (int after = 0; after <= 1; after++) {
            struct wire_prekey_upload up;
            struct buf body;
            memset(&up, 0, sizeof up);
            up.n = 5;
            for (size_t i = 0; i < up.n; i++)
                fx_prekey(&a, &up.prekeys[i]);
            buf_init(&body, 1u << 20);
            ck_assert_int_eq(wire_encode_prekey_upload(&body, &up), SP_OK);
            fault_then_ok(&f, g, API_PUT, "/v1/prekeys", a.bearer, &body, F_PREKEYS_ADD,
                          infra_errors[k], 0, after, 200);
            buf_free(&body);

            struct wire_signed_prekey spk;
            fx_signed_prekey(&f, &a, &spk);
            buf_init(&body, 4096);
            ck_assert_int_eq(wire_encode_signed_prekey(&body, &spk), SP_OK);
            fault_then_ok(&f, g, API_PUT, "/v1/signed-prekey", a.bearer, &body,
                          F_SIGNED_PREKEY_SET, infra_errors[k], 0, after, 204);
            /* the spk handler reads the account before queueing the write */
            fault_then_ok(&f, g, API_PUT, "/v1/signed-prekey", a.bearer, &body, F_ACCOUNT_BY_ID,
                          infra_errors[k], 0, false, 204);
            buf_free(&body);
        }
        /* GET /v1/prekeys/count: a read */
        fault_then_ok(&f, g, API_GET, "/v1/prekeys/count", a.bearer, NULL, F_PREKEYS_COUNT,
                      infra_errors[k], 0, false, 200);
    }
    fx_teardown(&f);
}
END_TEST

START_TEST(test_bundle_faults)
{
    struct fx f;
    struct ident a, b;
    struct faults *g = ff_setup(&f, "faults-bundle");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 20);
    char path[80];
    snprintf(path, sizeof path, "/v1/bundle/%s", b.text);
    uint32_t taken = 0;
    for (size_t k = 0; k < N_INFRA; k++) {
        /* taking a prekey and then failing must give it back */
        fault_then_ok(&f, g, API_GET, path, a.bearer, NULL, F_BUNDLE_TAKE, infra_errors[k], 0,
                      true, 200);
        fault_then_ok(&f, g, API_GET, path, a.bearer, NULL, F_BUNDLE_TAKE, infra_errors[k], 0,
                      false, 200);
        fault_then_ok(&f, g, API_GET, path, a.bearer, NULL, F_ACCOUNT_BY_ADDRESS,
                      infra_errors[k], 0, false, 200);
        fault_then_ok(&f, g, API_GET, path, a.bearer, NULL, F_COMMIT, infra_errors[k], 0, false,
                      200);
        taken += 4;
    }
    /* exactly one prekey per successful bundle, none for the failed ones */
    struct store_conn *c = NULL;
    struct store_account acct;
    uint32_t left = 0;
    ck_assert_int_eq(store_conn_get(f.store, &c), SP_OK);
    ck_assert_int_eq(store_account_by_address(c, b.address, &acct), SP_OK);
    ck_assert_int_eq(store_prekeys_count(c, acct.id, &left), SP_OK);
    store_conn_put(f.store, c);
    ck_assert_uint_eq(left, 20 - taken);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------ mail reads, ack */

START_TEST(test_fetch_and_ack_faults)
{
    struct fx f;
    struct ident a, b;
    struct fx_mail m = {0};
    struct buf body;
    struct tcall t;
    struct faults *g = ff_setup(&f, "faults-fetch");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);
    fx_mail_add(&m, &b, 256);
    fx_mail_add(&m, &b, 256);
    fx_mail_body(&m, &body);
    ck_assert_uint_eq(fx_do(&f, &t, API_POST, "/v1/messages", a.bearer, &body), 200);
    tcall_release(&f, &t);
    buf_free(&body);

    for (size_t k = 0; k < N_INFRA; k++) {
        fault_then_ok(&f, g, API_GET, "/v1/messages", b.bearer, NULL, F_MAIL_FETCH,
                      infra_errors[k], 0, false, 200);
        uint8_t ids[2][SP_MESSAGE_ID_LEN];
        memcpy(ids[0], m.env[0].message_id, SP_MESSAGE_ID_LEN);
        memcpy(ids[1], m.env[1].message_id, SP_MESSAGE_ID_LEN);
        buf_init(&body, 4096);
        ck_assert_int_eq(wire_encode_ack(&body, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 2),
                         SP_OK);
        /* the ack deletes, then fails: both envelopes must still be there */
        struct tcall t2;
        char *snap = fx_snapshot(&f);
        ff_set(g, F_MAIL_ACK, infra_errors[k], 0, 1, true);
        fx_do(&f, &t2, API_POST, "/v1/messages/ack", b.bearer, &body);
        expect_fault_reply(&t2, infra_errors[k]);
        tcall_release(&f, &t2);
        ff_clear(g);
        fx_assert_unchanged(&f, snap);
        ck_assert_uint_eq(fx_pending(&f, &b), 2);
        buf_free(&body);
    }
    fx_mail_free(&m);
    fx_teardown(&f);
}
END_TEST

/* A long-poll woken by mail whose re-read fails answers the error; the mail
 * is still there for the next fetch. */
START_TEST(test_longpoll_read_fails_after_wake)
{
    struct fx f;
    struct ident a, b;
    struct fx_mail m = {0};
    struct buf body;
    struct tcall t, s;
    struct faults *g = ff_setup(&f, "faults-lp");
    ident_new(&f, &a);
    ident_new(&f, &b);
    fx_register(&f, &a, 0);
    fx_register(&f, &b, 0);

    tcall_init(&t, API_GET, "/v1/messages", b.bearer);
    t.call.req.q_wait = "20";
    ck_assert_int_eq(api_handle(f.api, &t.call), API_PENDING);
    ck_assert(!tcall_wait(&t, 100));
    ff_set(g, F_MAIL_FETCH, SP_ERR_IO, 0, 1, false);
    fx_mail_add(&m, &b, 256);
    fx_mail_body(&m, &body);
    ck_assert_uint_eq(fx_do(&f, &s, API_POST, "/v1/messages", a.bearer, &body), 200);
    tcall_release(&f, &s);
    ck_assert(tcall_wait(&t, 2000));
    ck_assert_int_eq(api_handle(f.api, &t.call), API_DONE);
    expect_fault_reply(&t, SP_ERR_IO);
    tcall_release(&f, &t);
    ck_assert_uint_eq(ff_injected(g, F_MAIL_FETCH), 1);
    ff_clear(g);
    struct wire_fetch page = fetch_all(&f, &b);
    ck_assert_uint_eq(page.n, 1);
    ck_assert(page_has(&page, m.env[0].message_id));
    wire_fetch_free(&page);
    buf_free(&body);
    fx_mail_free(&m);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------ bearer lookup */

/* A store failure while checking a bearer token is the relay's problem,
 * not the caller's: 500/503 (with Retry-After), never 401, nothing cached,
 * and the same token works once the store is back. */
START_TEST(test_token_lookup_failure_is_not_401)
{
    struct fx f;
    struct ident a;
    struct tcall t;
    struct faults *g = ff_setup(&f, "faults-bearer");
    ident_new(&f, &a);
    fx_register(&f, &a, 3); /* the token has never been looked up: not cached */
    for (size_t k = 0; k < N_INFRA; k++) {
        ff_set(g, F_TOKEN_LOOKUP, infra_errors[k], 0, 1, false);
        fx_do(&f, &t, API_GET, "/v1/prekeys/count", a.bearer, NULL);
        expect_fault_reply(&t, infra_errors[k]);
        ck_assert_ptr_null(strstr(t.call.resp.content_type, "text"));
        tcall_release(&f, &t);
        ck_assert_uint_eq(ff_injected(g, F_TOKEN_LOOKUP), k + 1);
        ff_clear(g);
    }
    /* every authenticated route maps it the same way */
    static const struct {
        enum api_method m;
        const char *path;
    } routes[] = {{API_GET, "/v1/messages"},
                  {API_POST, "/v1/messages"},
                  {API_POST, "/v1/messages/ack"},
                  {API_PUT, "/v1/prekeys"},
                  {API_PUT, "/v1/signed-prekey"}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        ff_set(g, F_TOKEN_LOOKUP, SP_ERR_IO, 0, 1, false);
        fx_do(&f, &t, routes[i].m, routes[i].path, a.bearer, NULL);
        expect_fault_reply(&t, SP_ERR_IO);
        tcall_release(&f, &t);
        ff_clear(g);
    }
    ck_assert_uint_eq(fx_do(&f, &t, API_GET, "/v1/prekeys/count", a.bearer, NULL), 200);
    tcall_release(&f, &t);
    /* an unknown token is still 401 */
    struct ident stranger;
    ident_new(&f, &stranger);
    memcpy(stranger.bearer, "Bearer ", 7);
    memset(stranger.bearer + 7, 'A', SP_TOKEN_TEXT_LEN);
    fx_expect_error(&f, API_GET, "/v1/prekeys/count", stranger.bearer, NULL, 401,
                    SP_ERR_UNAUTHENTICATED);
    fx_teardown(&f);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("api_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_send_every_op_fails_cleanly);
    tcase_add_test(tc, test_batch_one_mail_put_fails);
    tcase_add_test(tc, test_batch_one_mail_put_fails_after_write);
    tcase_add_test(tc, test_batch_one_savepoint_fails);
    tcase_add_test(tc, test_batch_one_release_fails);
    tcase_add_test(tc, test_batch_one_lookup_fails);
    tcase_add_test(tc, test_batch_commit_fails_all);
    tcase_add_test(tc, test_register_faults);
    tcase_add_test(tc, test_token_faults);
    tcase_add_test(tc, test_prekey_and_spk_faults);
    tcase_add_test(tc, test_bundle_faults);
    tcase_add_test(tc, test_fetch_and_ack_faults);
    tcase_add_test(tc, test_longpoll_read_fails_after_wake);
    tcase_add_test(tc, test_token_lookup_failure_is_not_401);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(faults_suite());
}
