/*
 * test_privacy.c: what the relay's files and logs give away (docs/PRIVACY.md).
 *
 * Real API over a real SQLite store, real sealed envelopes (client/seal.h)
 * whose inner SealedContent names the sender and carries a plaintext marker,
 * a fake clock, and the pruner. Then the raw bytes of the database, WAL,
 * shared-memory and journal files are searched the way someone with a copy
 * of them would, and the captured log (debug level) is searched for
 * addresses and tokens.
 *
 * Interpretation of "no sender stored": the sender is itself a registered
 * account, so while it exists its address is legitimately in the accounts
 * table (the directory). What must never exist is a link from mail to its
 * sender: no mail column holds it, and once the sender account is gone
 * (idle expiry) its address, text form and identity key appear nowhere in
 * the files although mail it sent is still waiting.
 */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <unistd.h>

#include "api_fixture.h"
#include "client/seal.h"
#include "server/audit.h"
#include "server/pruner.h"

#define TTL  (30u * 24 * 3600)
#define IDLE (24u * 3600)
#define N_ENV 6

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

/* The bytes of every file SQLite may keep for the database, concatenated
 * with a separator (missing files are skipped). */
static uint8_t *read_all_files(const char *db, size_t *len)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    struct buf all;
    buf_init(&all, 256u * 1024 * 1024);
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL)
            continue;
        uint8_t chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            ck_assert_int_eq(buf_append(&all, chunk, n), SP_OK);
        fclose(fp);
        ck_assert_int_eq(buf_append_u8(&all, (uint8_t)0x7c), SP_OK);
    }
    *len = all.len;
    return all.data; /* owned by the caller */
}

static bool has(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
    return memmem(hay, n, needle, len) != NULL;
}

static void hex_of(char *out, size_t size, const uint8_t *p, size_t n)
{
    ck_assert_int_eq(hex_encode(out, size, p, n), SP_OK);
}

struct sealed {
    uint8_t mid[SP_MESSAGE_ID_LEN];
    uint8_t plain[32];  /* marker inside the Signal ciphertext (never seen by the relay) */
    uint8_t cipher[32]; /* 32 bytes of the sealed content the relay stores */
};

/* Seal one envelope from `from` to `to` and send it (asserts stored = 1). */
static void send_sealed(struct fx *f, const struct ident *from, const struct ident *to,
                        struct sealed *e)
{
    uint8_t text[300];
    struct wire_sealed_content inner = {.sender_device = SP_DEVICE_ID, .type = 3,
                                        .ciphertext = text, .ciphertext_len = sizeof text};
    struct buf env, body;
    struct tcall t;
    ck_assert_int_eq(sp_random(e->plain, sizeof e->plain), SP_OK);
    ck_assert_int_eq(sp_random(text, sizeof text), SP_OK);
    memcpy(text + 100, e->plain, sizeof e->plain);
    memcpy(inner.sender, from->address, SP_ADDRESS_LEN);
    buf_init(&env, 1u << 17);
    ck_assert_int_eq(seal_envelope(&env, to->pub, &inner), SP_OK);
    ck_assert_uint_eq(env.len, SP_SEAL_OVERHEAD + 512); /* padded to its bucket */
    memcpy(e->cipher, env.data + 1 + 32, sizeof e->cipher); /* start of C */

    struct wire_out_envelope oe = {.content = env.data, .content_len = env.len};
    memcpy(oe.recipient, to->address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(oe.message_id, SP_MESSAGE_ID_LEN), SP_OK);
    memcpy(e->mid, oe.message_id, SP_MESSAGE_ID_LEN);
    buf_init(&body, 1u << 20);
    ck_assert_int_eq(wire_encode_send(&body, &oe, 1), SP_OK);
    ck_assert_uint_eq(fx_do(f, &t, API_POST, "/v1/messages", from->bearer, &body), 200);
    struct wire_send_response r;
    ck_assert_int_eq(wire_decode_send_response(&r, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(r.stored, 1);
    tcall_release(f, &t);
    buf_free(&body);
    buf_free(&env);
}

/* A fresh token for id at the fixture's now (touches its activity hour). */
static void new_token(struct fx *f, struct ident *id)
{
    struct buf body;
    struct tcall t;
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

static void ack_ids(struct fx *f, const struct ident *who, const struct sealed *e, size_t n)
{
    uint8_t ids[N_ENV][SP_MESSAGE_ID_LEN];
    struct buf body;
    struct tcall t;
    uint32_t deleted = 0;
    for (size_t i = 0; i < n; i++)
        memcpy(ids[i], e[i].mid, SP_MESSAGE_ID_LEN);
    buf_init(&body, 1u << 16);
    ck_assert_int_eq(wire_encode_ack(&body, (const uint8_t(*)[16])ids, n), SP_OK);
    ck_assert_uint_eq(fx_do(f, &t, API_POST, "/v1/messages/ack", who->bearer, &body), 200);
    ck_assert_int_eq(wire_decode_ack_response(&deleted, t.call.resp.body.data,
                                              t.call.resp.body.len),
                     SP_OK);
    ck_assert_uint_eq(deleted, n);
    tcall_release(f, &t);
    buf_free(&body);
}

static size_t fetch_count(struct fx *f, const struct ident *who)
{
    struct wire_fetch page;
    struct tcall t;
    ck_assert_uint_eq(fx_do(f, &t, API_GET, "/v1/messages", who->bearer, NULL), 200);
    ck_assert_int_eq(wire_decode_fetch(&page, NULL, t.call.resp.body.data, t.call.resp.body.len),
                     SP_OK);
    tcall_release(f, &t);
    size_t n = page.n;
    wire_fetch_free(&page);
    return n;
}

/* Sender a, recipient b; e[0..3] sent at T0, e[4..5] two hours later. At
 * hour(T0) + TTL + 1h: b fetches and acks e[0..1]; the pruner then deletes
 * e[2..3] (TTL) and a (idle for a day). Live: e[4..5]. */
static void scenario(struct fx *f, struct ident *a, struct ident *b, struct sealed *e)
{
    ident_new(f, a);
    ident_new(f, b);
    fx_register(f, a, 3);
    fx_register(f, b, 3);
    for (int i = 0; i < 4; i++)
        send_sealed(f, a, b, &e[i]);
    fx_advance(f, 2 * 3600);
    new_token(f, a);
    for (int i = 4; i < N_ENV; i++)
        send_sealed(f, a, b, &e[i]);
    atomic_store(&f->now, store_hour(FX_T0) + TTL + 3600);
    new_token(f, b);
    ck_assert_uint_eq(fetch_count(f, b), N_ENV);
    ack_ids(f, b, e, 2);

    struct store_retention r = {.envelope_ttl_s = TTL, .signed_prekey_grace_s = 3600,
                                .account_idle_s = IDLE, .batch = 2};
    struct pruner_counts n;
    ck_assert_int_eq(pruner_run_once(f->store, &r, atomic_load(&f->now), &n), SP_OK);
    pruner_log_counts(&n);
    ck_assert_uint_eq(n.mail, 2);
    ck_assert_uint_eq(n.accounts, 1);
    ck_assert(n.checkpoint_complete);
    ck_assert_uint_eq(fetch_count(f, b), 2);
}

START_TEST(test_raw_files_after_send_ack_prune)
{
    struct fx f;
    struct ident a, b;
    struct sealed e[N_ENV];
    fx_setup(&f, "privacy-raw");
    scenario(&f, &a, &b, e);

    size_t n = 0;
    uint8_t *all = read_all_files(f.path, &n);
    char hex[80];
    /* the sender: raw address, its text and hex forms, its identity key */
    ck_assert_msg(!has(all, n, a.address, SP_ADDRESS_LEN), "sender address bytes in the files");
    ck_assert_msg(!has(all, n, a.text, SP_ADDRESS_TEXT_LEN), "sender address text in the files");
    hex_of(hex, sizeof hex, a.address, SP_ADDRESS_LEN);
    ck_assert_msg(!has(all, n, hex, strlen(hex)), "sender address hex in the files");
    ck_assert_msg(!has(all, n, a.pub + 1, 32), "sender identity key in the files");
    for (int i = 0; i < N_ENV; i++) {
        ck_assert_msg(!has(all, n, e[i].plain, 32), "plaintext marker %d in the files", i);
        if (i < 4)
            ck_assert_msg(!has(all, n, e[i].cipher, 32), "deleted ciphertext %d lingers", i);
        else /* control: the scan does find what is really there */
            ck_assert_msg(has(all, n, e[i].cipher, 32), "live ciphertext %d not found", i);
    }
    /* control: the recipient is a live directory entry */
    ck_assert(has(all, n, b.address, SP_ADDRESS_LEN));
    free(all);

    /* WAL truncated by the checkpoint */
    char wal[512];
    snprintf(wal, sizeof wal, "%s-wal", f.path);
    FILE *fp = fopen(wal, "rb");
    if (fp != NULL) {
        fseek(fp, 0, SEEK_END);
        ck_assert_int_eq(ftell(fp), 0);
        fclose(fp);
    }
    fx_teardown(&f);
}
END_TEST

START_TEST(test_schema_holds_no_sender_ip_and_coarse_times)
{
    struct fx f;
    struct ident a, b;
    struct sealed e[N_ENV];
    fx_setup(&f, "privacy-schema");
    scenario(&f, &a, &b, e);
    /* mail has exactly these columns: nothing about a sender */
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM pragma_table_info('mail')"), 5);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM pragma_table_info('mail') WHERE name"
                                     " IN ('seq','recipient_id','message_id','content',"
                                     "'received_hour')"),
                     5);
    /* no column anywhere that could hold a sender, an IP or a client */
    ck_assert_int_eq(raw_int(f.path,
                             "SELECT count(*) FROM sqlite_schema s, pragma_table_info(s.name) c"
                             " WHERE s.type = 'table' AND (c.name LIKE '%sender%' OR"
                             " c.name LIKE '%ip%addr%' OR c.name = 'ip' OR c.name LIKE '%client%'"
                             " OR c.name LIKE '%agent%' OR c.name LIKE '%from%'"
                             " OR (c.name LIKE '%address%' AND s.name <> 'accounts'))"),
                     0);
    /* every stored time is a whole hour */
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail WHERE received_hour % 3600 <> 0"),
                     0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM accounts WHERE created_hour % 3600 <> 0"
                                     " OR active_hour % 3600 <> 0"),
                     0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM tokens WHERE expires_at % 3600 <> 0"),
                     0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM replay WHERE expires_at % 3600 <> 0"),
                     0);
    /* every envelope is 49 + a power of two in [256, 65536] */
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail WHERE length(content) < 305 OR"
                                     " length(content) > 65585 OR"
                                     " ((length(content) - 49) & (length(content) - 50)) <> 0"),
                     0);
    ck_assert_int_eq(raw_int(f.path, "SELECT count(*) FROM mail"), 2);
    /* secure_delete is on for the relay's connections */
    struct store_conn *c = NULL;
    ck_assert_int_eq(store_conn_get(f.store, &c), SP_OK);
    struct store_audit au;
    ck_assert_int_eq(store_audit(c, &au), SP_OK);
    store_conn_put(f.store, c);
    ck_assert_uint_eq(au.accounts, 1);
    fx_teardown(&f);
}
END_TEST

/* ------------------------------------------------------------------ logs */

struct capture {
    int saved;
    char *path;
};

static void capture_start(struct capture *cap, const char *dir)
{
    cap->path = tu_path(dir, "stderr.log");
    fflush(stderr);
    cap->saved = dup(2);
    ck_assert_int_ge(cap->saved, 0);
    int fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
}

static char *capture_stop(struct capture *cap, size_t *len)
{
    fflush(stderr);
    ck_assert_int_eq(dup2(cap->saved, 2), 2);
    close(cap->saved);
    FILE *fp = fopen(cap->path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *p = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, fp), (size_t)n);
    p[n] = '\0';
    fclose(fp);
    free(cap->path);
    *len = (size_t)n;
    return p;
}

/* Every identity form of an agent, and its token, must be absent. */
static void assert_no_identity(const char *log, size_t n, const struct ident *id, const char *who)
{
    char hex[80], up[80];
    ck_assert_msg(!has((const uint8_t *)log, n, id->text, SP_ADDRESS_TEXT_LEN),
                  "%s: address text in the log", who);
    for (size_t i = 0; i < SP_ADDRESS_TEXT_LEN; i++)
        up[i] = (char)(id->text[i] >= 'a' && id->text[i] <= 'z' ? id->text[i] - 32 : id->text[i]);
    ck_assert_msg(!has((const uint8_t *)log, n, up, SP_ADDRESS_TEXT_LEN),
                  "%s: upper-case address text in the log", who);
    hex_of(hex, sizeof hex, id->address, SP_ADDRESS_LEN);
    ck_assert_msg(!has((const uint8_t *)log, n, hex, 16), "%s: address hex in the log", who);
    hex_of(hex, sizeof hex, id->pub, 16);
    ck_assert_msg(!has((const uint8_t *)log, n, hex, 16), "%s: identity key hex in the log", who);
    ck_assert_msg(!has((const uint8_t *)log, n, id->bearer + 7, 16), "%s: token in the log", who);
}

START_TEST(test_logs_hold_no_address_or_token)
{
    struct fx f;
    struct ident a, b, ghost;
    struct sealed e[N_ENV];
    struct capture cap;
    fx_init(&f, "privacy-log");
    f.cfg.limits.bundle_fetches_per_target = 1;
    capture_start(&cap, f.dir);
    sp_log_set_level(SP_LOG_DEBUG);
    fx_start(&f);
    SP_LOG_D("privacy-test: capture works");

    scenario(&f, &a, &b, e);
    /* error paths with identities in them */
    ident_new(&f, &ghost);
    char path[96];
    snprintf(path, sizeof path, "/v1/bundle/%s", ghost.text);
    fx_expect_error(&f, API_GET, path, b.bearer, NULL, 404, SP_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "/v1/bundle/%s", b.text);
    struct tcall t;
    fx_do(&f, &t, API_GET, path, b.bearer, NULL);
    tcall_release(&f, &t);
    fx_do(&f, &t, API_GET, path, b.bearer, NULL); /* 429 */
    tcall_release(&f, &t);
    fx_expect_error(&f, API_GET, "/v1/messages", a.bearer, NULL, 401, SP_ERR_UNAUTHENTICATED);
    struct fx_mail m = {0};
    struct buf body;
    fx_mail_add(&m, &ghost, 256);
    fx_mail_body(&m, &body);
    fx_expect_error(&f, API_POST, "/v1/messages", b.bearer, &body, 404, SP_ERR_NOT_FOUND);
    buf_free(&body);
    fx_mail_free(&m);
    fx_token_body(&f, &ghost, atomic_load(&f.now), &body); /* unknown account */
    fx_expect_error(&f, API_POST, "/v1/token", NULL, &body, 401, SP_ERR_UNAUTHENTICATED);
    buf_free(&body);
    struct wire_register reg;
    fx_register_struct(&f, &b, 1, atomic_load(&f.now), &reg);
    reg.signed_prekey.signature[3] ^= 1;
    fx_register_body(&f, &b, &reg, &body);
    fx_expect_error(&f, API_POST, "/v1/register", NULL, &body, 401, SP_ERR_BAD_SIGNATURE);
    buf_free(&body);
    fx_do(&f, &t, API_GET, "/metrics", NULL, NULL);
    tcall_release(&f, &t);

    /* the audit report goes through the same scan */
    fprintf(stderr, "---- audit\n");
    ck_assert_int_eq(audit_print(stderr, f.store, f.path, atomic_load(&f.now)), SP_OK);
    api_shutdown(f.api);
    size_t n = 0;
    char *log = capture_stop(&cap, &n);
    sp_log_set_level(SP_LOG_INFO);

    ck_assert_msg(strstr(log, "privacy-test: capture works") != NULL, "capture failed");
    ck_assert_msg(strstr(log, "pruned: 2 envelopes") != NULL, "no pruner line:\n%s", log);
    ck_assert_msg(strstr(log, "mail content") != NULL, "no audit report");
    assert_no_identity(log, n, &a, "sender");
    assert_no_identity(log, n, &b, "recipient");
    assert_no_identity(log, n, &ghost, "unknown agent");
    ck_assert_msg(strstr(log, "127.0.0.1") == NULL, "an IP in the log");
    free(log);
    fx_teardown(&f);
}
END_TEST

static Suite *privacy_suite(void)
{
    Suite *s = suite_create("privacy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_raw_files_after_send_ack_prune);
    tcase_add_test(tc, test_schema_holds_no_sender_ip_and_coarse_times);
    tcase_add_test(tc, test_logs_hold_no_address_or_token);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(privacy_suite());
}
