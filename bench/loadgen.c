/*
 * loadgen.c: load generator for sealpostd, with a raw-SQLite baseline.
 *
 * What it measures, in one run on one disk:
 *   1. relay, single sends: N connections (one thread and one keep-alive TLS
 *      easy handle each), every request POST /v1/messages with ONE envelope
 *      (content = 49 + bucket bytes, a 1 KiB bucket by default);
 *   2. relay, batched sends: the same with `batch` envelopes per request;
 *   3. relay, fetch+ack: every connection drains its own mailbox with
 *      GET /v1/messages pages followed by POST /v1/messages/ack;
 *   4. baseline: the same rows written straight into SQLite in the same
 *      directory as the relay's database (same mail table, indexes and quota
 *      triggers as migrations/0001_init.sql, WAL, synchronous=FULL,
 *      secure_delete=ON): one row per transaction, `batch` rows per
 *      transaction, then fetch pages + delete by id, one transaction per page.
 * It prints the conditions, the figures and relay/baseline ratios.
 *
 * By default it starts its own relay (sealpostd from this build) on a free
 * loopback port with a throw-away certificate and state dir under --dir; with
 * --url/--cacert it drives an external relay (the baseline then runs in --dir).
 *
 * Thread rules: worker threads share nothing but atomic counters; each owns
 * its rc_client and identities. The baseline runs on the main thread after
 * the relay phases, so the two never compete for the disk.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "relay_client.h"
#include "relay_proc.h"

#ifndef SEALPOSTD_PATH
#define SEALPOSTD_PATH "sealpostd"
#endif

#define MAX_LAT 400000

struct opts {
    unsigned conns;
    unsigned duration_s;
    unsigned batch;
    unsigned bucket;
    const char *sync; /* relay database sync mode when we start the relay */
    const char *dir;
    const char *url;
    const char *cacert;
    const char *sealpostd;
    unsigned relay_threads; /* 0 = relay default */
};

struct worker {
    pthread_t th;
    unsigned idx;
    struct rc_client c;
    struct rc_identity sender;
    struct rc_identity rcpt;     /* this worker's own mailbox */
    struct buf content;          /* one sealed-framed content, reused */
    uint64_t counter;
    /* results of the current phase */
    uint64_t requests, envelopes, errors;
    long last_error;
    double *lat_ms;
    size_t n_lat;
};

static const struct opts *g_opt;
static struct worker *g_workers;
static atomic_int g_phase;         /* 1 single, 2 batch, 3 drain */
static uint64_t g_deadline_ms;
static pthread_barrier_t g_start;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: loadgen [options]\n"
            "  -c, --connections N   client connections/threads (default 16)\n"
            "  -d, --duration S      seconds per send phase (default 6)\n"
            "  -b, --batch N         envelopes per batched request (default 50)\n"
            "  -s, --bucket B        padded plaintext bucket, power of two 256..65536 (default 1024)\n"
            "      --sync full|normal  relay database sync mode (own relay only; default full)\n"
            "      --relay-threads N relay HTTP thread pool (own relay only; default: relay's)\n"
            "      --dir DIR         where the relay db and the baseline db live (default .)\n"
            "      --url URL --cacert F  drive an external relay instead of starting one\n"
            "      --sealpostd PATH  relay binary (default: the one from this build)\n");
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"bucket", required_argument, NULL, 's'},
        {"sync", required_argument, NULL, 'S'},
        {"dir", required_argument, NULL, 'D'},
        {"url", required_argument, NULL, 'u'},
        {"cacert", required_argument, NULL, 'C'},
        {"sealpostd", required_argument, NULL, 'P'},
        {"relay-threads", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    memset(o, 0, sizeof *o);
    o->conns = 16;
    o->duration_s = 6;
    o->batch = 50;
    o->bucket = 1024;
    o->sync = "full";
    o->dir = ".";
    o->sealpostd = SEALPOSTD_PATH;
    while ((ch = getopt_long(argc, argv, "c:d:b:s:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': o->conns = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': o->duration_s = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'b': o->batch = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': o->bucket = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'S': o->sync = optarg; break;
        case 'D': o->dir = optarg; break;
        case 'u': o->url = optarg; break;
        case 'C': o->cacert = optarg; break;
        case 'P': o->sealpostd = optarg; break;
        case 'T': o->relay_threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (o->conns < 1 || o->conns > 1000 || o->duration_s < 1 || o->batch < 1 ||
        o->batch > 100 || o->bucket < SP_SEAL_MIN_BUCKET || o->bucket > SP_SEAL_MAX_BUCKET ||
        (o->bucket & (o->bucket - 1)) != 0) {
        fprintf(stderr, "loadgen: option out of range\n");
        return -1;
    }
    if (strcmp(o->sync, "full") != 0 && strcmp(o->sync, "normal") != 0) {
        fprintf(stderr, "loadgen: --sync must be full or normal\n");
        return -1;
    }
    if ((o->url == NULL) != (o->cacert == NULL)) {
        fprintf(stderr, "loadgen: --url and --cacert go together\n");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- relay phases */

static void next_id(struct worker *w, uint8_t id[static SP_MESSAGE_ID_LEN])
{
    /* Unique per (worker, counter); the random tail keeps runs apart. */
    uint64_t v = ++w->counter;
    memcpy(id, &w->idx, 4);
    memcpy(id + 4, &v, 8);
    if (sp_random(id + 12, 4) != SP_OK)
        memset(id + 12, 0, 4);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void record_lat(struct worker *w, double ms)
{
    if (w->n_lat < MAX_LAT)
        w->lat_ms[w->n_lat++] = ms;
}

static void phase_send(struct worker *w, unsigned per_request)
{
    struct wire_out_envelope env[100];
    struct wire_send_response sr;
    unsigned n = g_opt->conns;
    while (rp_now_ms() < g_deadline_ms) {
        for (unsigned i = 0; i < per_request; i++) {
            unsigned to = (unsigned)((w->counter * 7 + w->idx + i) % n);
            memcpy(env[i].recipient, g_workers[to].rcpt.address, SP_ADDRESS_LEN);
            next_id(w, env[i].message_id);
            env[i].content = w->content.data;
            env[i].content_len = w->content.len;
        }
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        long st = rc_send(&w->c, &w->sender, env, per_request, &sr, NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (st == 200 && sr.stored == per_request) {
            w->requests++;
            w->envelopes += per_request;
            record_lat(w, (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        } else {
            w->errors++;
            w->last_error = st;
        }
    }
}

static void phase_drain(struct worker *w)
{
    uint8_t(*ids)[SP_MESSAGE_ID_LEN] = malloc((size_t)SP_HARD_MAX_FETCH_ENVELOPES * SP_MESSAGE_ID_LEN);
    if (ids == NULL) {
        w->errors++;
        return;
    }
    while (rp_now_ms() < g_deadline_ms) {
        struct wire_fetch f;
        uint32_t deleted = 0;
        memset(&f, 0, sizeof f);
        long st = rc_fetch(&w->c, &w->rcpt, -1, 0, 0, &f, NULL);
        if (st != 200) {
            w->errors++;
            w->last_error = st;
            wire_fetch_free(&f);
            break;
        }
        size_t n = f.n;
        for (size_t i = 0; i < n; i++)
            memcpy(ids[i], f.envelopes[i].message_id, SP_MESSAGE_ID_LEN);
        wire_fetch_free(&f);
        w->requests++;
        if (n == 0)
            break;
        st = rc_ack(&w->c, &w->rcpt, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, n, &deleted);
        w->requests++;
        if (st != 200 || deleted != n) {
            w->errors++;
            w->last_error = st;
            break;
        }
        w->envelopes += n;
    }
    free(ids);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&g_start);
    switch (atomic_load(&g_phase)) {
    case 1: phase_send(w, 1); break;
    case 2: phase_send(w, g_opt->batch); break;
    case 3: phase_drain(w); break;
    default: break;
    }
    return NULL;
}

struct phase_result {
    double seconds;
    uint64_t requests, envelopes, errors;
    double p50, p99;
};

static void run_phase(int phase, unsigned seconds, struct phase_result *res)
{
    unsigned n = g_opt->conns;
    memset(res, 0, sizeof *res);
    for (unsigned i = 0; i < n; i++) {
        g_workers[i].requests = g_workers[i].envelopes = g_workers[i].errors = 0;
        g_workers[i].n_lat = 0;
        g_workers[i].last_error = 0;
    }
    atomic_store(&g_phase, phase);
    pthread_barrier_init(&g_start, NULL, n + 1);
    for (unsigned i = 0; i < n; i++)
        pthread_create(&g_workers[i].th, NULL, worker_main, &g_workers[i]);
    uint64_t t0 = rp_now_ms();
    g_deadline_ms = t0 + (uint64_t)seconds * 1000u;
    pthread_barrier_wait(&g_start);
    for (unsigned i = 0; i < n; i++)
        pthread_join(g_workers[i].th, NULL);
    res->seconds = (double)(rp_now_ms() - t0) / 1e3;
    pthread_barrier_destroy(&g_start);
    size_t total_lat = 0;
    for (unsigned i = 0; i < n; i++) {
        res->requests += g_workers[i].requests;
        res->envelopes += g_workers[i].envelopes;
        res->errors += g_workers[i].errors;
        total_lat += g_workers[i].n_lat;
        if (g_workers[i].errors > 0)
            fprintf(stderr, "loadgen: worker %u: %" PRIu64 " errors, last HTTP %ld\n", i,
                    g_workers[i].errors, g_workers[i].last_error);
    }
    if (total_lat > 0) {
        double *all = malloc(total_lat * sizeof *all);
        size_t k = 0;
        for (unsigned i = 0; i < n && all != NULL; i++) {
            memcpy(all + k, g_workers[i].lat_ms, g_workers[i].n_lat * sizeof *all);
            k += g_workers[i].n_lat;
        }
        if (all != NULL) {
            qsort(all, total_lat, sizeof *all, cmp_double);
            res->p50 = all[total_lat / 2];
            res->p99 = all[(size_t)((double)total_lat * 0.99)];
            free(all);
        }
    }
}

/* ---------------------------------------------------------------- SQLite baseline */

static int sq(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "loadgen: sqlite: %s: %s\n", sql, err != NULL ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static const char *BASELINE_SCHEMA =
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, mail_count INTEGER NOT NULL DEFAULT 0,"
    " mail_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE mail (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " recipient_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,"
    " message_id BLOB NOT NULL CHECK (length(message_id) = 16),"
    " content BLOB NOT NULL CHECK (length(content) > 0),"
    " received_hour INTEGER NOT NULL CHECK (received_hour % 3600 = 0),"
    " UNIQUE (recipient_id, message_id));"
    "CREATE INDEX mail_recipient_seq ON mail (recipient_id, seq);"
    "CREATE INDEX mail_received ON mail (received_hour);"
    "CREATE TRIGGER mail_count_insert AFTER INSERT ON mail BEGIN UPDATE accounts SET"
    " mail_count = mail_count + 1, mail_bytes = mail_bytes + length(NEW.content)"
    " WHERE id = NEW.recipient_id; END;"
    "CREATE TRIGGER mail_count_delete AFTER DELETE ON mail BEGIN UPDATE accounts SET"
    " mail_count = mail_count - 1, mail_bytes = mail_bytes - length(OLD.content)"
    " WHERE id = OLD.recipient_id; END;";

struct baseline {
    struct phase_result single, batched, drain;
};

static int baseline_insert(sqlite3 *db, sqlite3_stmt *ins, const struct buf *content,
                           unsigned per_txn, unsigned seconds, unsigned n_rcpt, uint64_t *ctr,
                           struct phase_result *res)
{
    uint64_t t0 = rp_now_ms(), deadline = t0 + (uint64_t)seconds * 1000u;
    uint64_t hour = (uint64_t)time(NULL) / 3600 * 3600;
    memset(res, 0, sizeof *res);
    while (rp_now_ms() < deadline) {
        if (sq(db, "BEGIN IMMEDIATE") != 0)
            return -1;
        for (unsigned i = 0; i < per_txn; i++) {
            uint8_t id[16];
            uint64_t v = ++*ctr;
            memset(id, 0xb5, sizeof id);
            memcpy(id, &v, 8);
            sqlite3_bind_int64(ins, 1, (sqlite3_int64)(1 + v % n_rcpt));
            sqlite3_bind_blob(ins, 2, id, sizeof id, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ins, 3, content->data, (int)content->len, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 4, (sqlite3_int64)hour);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                fprintf(stderr, "loadgen: baseline insert: %s\n", sqlite3_errmsg(db));
                return -1;
            }
            sqlite3_reset(ins);
        }
        if (sq(db, "COMMIT") != 0)
            return -1;
        res->requests++;
        res->envelopes += per_txn;
    }
    res->seconds = (double)(rp_now_ms() - t0) / 1e3;
    return 0;
}

static int baseline_drain(sqlite3 *db, unsigned n_rcpt, unsigned seconds, struct phase_result *res)
{
    sqlite3_stmt *sel = NULL, *del = NULL;
    uint64_t t0 = rp_now_ms(), deadline = t0 + (uint64_t)seconds * 1000u;
    uint8_t ids[100][16];
    int rc = -1;
    memset(res, 0, sizeof *res);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, message_id, content FROM mail WHERE recipient_id = ?"
                           " AND seq > ? ORDER BY seq LIMIT 100", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM mail WHERE recipient_id = ? AND message_id = ?", -1,
                           &del, NULL) != SQLITE_OK)
        goto out;
    for (unsigned r = 1; r <= n_rcpt && rp_now_ms() < deadline; r++) {
        for (;;) {
            size_t n = 0, bytes = 0;
            sqlite3_bind_int64(sel, 1, r);
            sqlite3_bind_int64(sel, 2, 0);
            while (sqlite3_step(sel) == SQLITE_ROW && n < 100) {
                memcpy(ids[n], sqlite3_column_blob(sel, 1), 16);
                bytes += (size_t)sqlite3_column_bytes(sel, 2); /* read the content too */
                n++;
            }
            sqlite3_reset(sel);
            (void)bytes;
            res->requests++;
            if (n == 0 || rp_now_ms() >= deadline)
                break;
            if (sq(db, "BEGIN IMMEDIATE") != 0)
                goto out;
            for (size_t i = 0; i < n; i++) {
                sqlite3_bind_int64(del, 1, r);
                sqlite3_bind_blob(del, 2, ids[i], 16, SQLITE_STATIC);
                if (sqlite3_step(del) != SQLITE_DONE)
                    goto out;
                sqlite3_reset(del);
            }
            if (sq(db, "COMMIT") != 0)
                goto out;
            res->requests++;
            res->envelopes += n;
        }
    }
    res->seconds = (double)(rp_now_ms() - t0) / 1e3;
    rc = 0;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(del);
    return rc;
}

static int run_baseline(const char *dir, unsigned seconds, unsigned batch, unsigned n_rcpt,
                        const struct buf *content, struct baseline *b)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    uint64_t ctr = 0;
    int rc = -1;
    if (snprintf(path, sizeof path, "%s/baseline.db", dir) >= (int)sizeof path)
        return -1;
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto out;
    if (sq(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
               " PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;") != 0 ||
        sq(db, BASELINE_SCHEMA) != 0)
        goto out;
    for (unsigned i = 0; i < n_rcpt; i++)
        if (sq(db, "INSERT INTO accounts DEFAULT VALUES") != 0)
            goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO mail (recipient_id, message_id, content, received_hour)"
                           " VALUES (?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
        goto out;
    if (baseline_insert(db, ins, content, 1, seconds, n_rcpt, &ctr, &b->single) != 0 ||
        baseline_insert(db, ins, content, batch, seconds, n_rcpt, &ctr, &b->batched) != 0 ||
        baseline_drain(db, n_rcpt, 2 * seconds, &b->drain) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0 && db != NULL)
        fprintf(stderr, "loadgen: baseline: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    sqlite3_close(db);
    unlink(path);
    if (snprintf(path, sizeof path, "%s/baseline.db-wal", dir) < (int)sizeof path)
        unlink(path);
    if (snprintf(path, sizeof path, "%s/baseline.db-shm", dir) < (int)sizeof path)
        unlink(path);
    return rc;
}

/* ---------------------------------------------------------------- main */

static const char *fs_name(const char *dir)
{
    struct statfs s;
    if (statfs(dir, &s) != 0)
        return "?";
    switch ((unsigned long)s.f_type) {
    case 0xEF53: return "ext2/3/4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs (fsync is free: numbers are not durable-disk numbers)";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

static void rm_state(const char *dir)
{
    const char *names[] = {"relay.db", "relay.db-wal", "relay.db-shm", "relay.log", "relay.conf",
                           "cert.pem", "key.pem"};
    char p[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (snprintf(p, sizeof p, "%s/%s", dir, names[i]) < (int)sizeof p)
            unlink(p);
    }
    rmdir(dir);
}

static double rate(const struct phase_result *r)
{
    return r->seconds > 0 ? (double)r->envelopes / r->seconds : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    char state[4096], cert[4200], key[4200], db[4200], conf[4200], logp[4200], url[128];
    pid_t relay = 0;
    int rc = 1;
    if (parse_opts(&o, argc, argv) != 0)
        return 2;
    g_opt = &o;
    signal(SIGPIPE, SIG_IGN);
    if (rc_global_init() != 0) {
        fprintf(stderr, "loadgen: init failed\n");
        return 1;
    }
    if (snprintf(state, sizeof state, "%s/loadgen-XXXXXX", o.dir) >= (int)sizeof state ||
        mkdtemp(state) == NULL) {
        fprintf(stderr, "loadgen: mkdtemp %s: %s\n", state, strerror(errno));
        return 1;
    }
    snprintf(cert, sizeof cert, "%s/cert.pem", state);
    snprintf(key, sizeof key, "%s/key.pem", state);
    snprintf(db, sizeof db, "%s/relay.db", state);
    snprintf(conf, sizeof conf, "%s/relay.conf", state);
    snprintf(logp, sizeof logp, "%s/relay.log", state);
    const char *cafile = o.cacert;
    if (o.url == NULL) {
        FILE *f = fopen(conf, "w");
        if (f == NULL || rp_make_cert(state) != 0) {
            fprintf(stderr, "loadgen: cannot prepare %s\n", state);
            goto out;
        }
        fprintf(f, "[server]\nmax_connections_per_ip = 100000\nmax_connections = 100000\n");
        if (o.relay_threads > 0)
            fprintf(f, "threads = %u\n", o.relay_threads);
        fprintf(f,
                "[database]\nsync = %s\n"
                "[limits]\nauth_rate_per_minute = 1000000\nmailbox_max_messages = 10000000\n"
                "mailbox_max_bytes = 60000000000\n",
                o.sync);
        fclose(f);
        uint16_t port = 0;
        for (int attempt = 0; attempt < 5 && relay == 0; attempt++) {
            port = rp_free_port();
            if (rp_spawn(&relay, o.sealpostd, port, cert, key, db, conf, logp, 30000) != 0)
                relay = 0;
        }
        if (relay == 0) {
            fprintf(stderr, "loadgen: could not start %s (log: %s)\n", o.sealpostd, logp);
            goto out;
        }
        snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)port);
        cafile = cert;
    } else {
        if (snprintf(url, sizeof url, "%s", o.url) >= (int)sizeof url) {
            fprintf(stderr, "loadgen: --url too long\n");
            goto out;
        }
    }

    g_workers = calloc(o.conns, sizeof *g_workers);
    if (g_workers == NULL)
        goto out;
    for (unsigned i = 0; i < o.conns; i++) {
        struct worker *w = &g_workers[i];
        w->idx = i;
        w->lat_ms = malloc(MAX_LAT * sizeof *w->lat_ms);
        buf_init(&w->content, SP_HARD_MAX_ENVELOPE_BYTES);
        if (w->lat_ms == NULL || rc_client_init(&w->c, url, cafile) != 0 ||
            rc_account(&w->c, &w->sender, 0) != 0 || rc_account(&w->c, &w->rcpt, 0) != 0 ||
            rc_fake_sealed(&w->content, o.bucket) != 0) {
            fprintf(stderr, "loadgen: setting up connection %u failed (%s)\n", i, w->c.err);
            goto out;
        }
    }

    struct phase_result single, batched, drain;
    struct baseline base;
    fprintf(stderr, "loadgen: relay single sends (%u s)...\n", o.duration_s);
    run_phase(1, o.duration_s, &single);
    fprintf(stderr, "loadgen: relay batched sends (%u s)...\n", o.duration_s);
    run_phase(2, o.duration_s, &batched);
    fprintf(stderr, "loadgen: relay fetch+ack (up to %u s)...\n", 2 * o.duration_s);
    run_phase(3, 2 * o.duration_s, &drain);
    uint64_t sent = single.envelopes + batched.envelopes;

    fprintf(stderr, "loadgen: SQLite baseline...\n");
    if (run_baseline(state, o.duration_s, o.batch, o.conns, &g_workers[0].content, &base) != 0)
        goto out;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char threads_txt[16];
    snprintf(threads_txt, sizeof threads_txt, "%u", o.relay_threads);
    printf("== sealpost loadgen ==\n");
    printf("conditions: %ld cores; %u client connections (1 thread + 1 keep-alive TLS 1.3 "
           "connection each); relay %s%s; relay db sync=%s; envelope content %u bytes (bucket %u); "
           "batch %u; %u recipients; phase %u s (drain up to %u s)\n",
           cores, o.conns, o.url != NULL ? "external " : "own sealpostd, threads=",
           o.url != NULL ? o.url : (o.relay_threads > 0 ? threads_txt : "default"),
           o.url != NULL ? "(unknown)" : o.sync, SP_SEAL_OVERHEAD + o.bucket, o.bucket, o.batch,
           o.conns, o.duration_s, 2 * o.duration_s);
    printf("disk: %s (%s); client, relay and baseline share the machine\n", state, fs_name(state));
    printf("\n%-36s %10s %10s %12s %10s %9s %9s\n", "phase", "seconds", "requests", "envelopes",
           "env/s", "p50 ms", "p99 ms");
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9.2f %9.2f\n",
           "relay send, 1 envelope/request", single.seconds, single.requests, single.envelopes,
           rate(&single), single.p50, single.p99);
    char label[64];
    snprintf(label, sizeof label, "relay send, %u envelopes/request", o.batch);
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9.2f %9.2f\n", label,
           batched.seconds, batched.requests, batched.envelopes, rate(&batched), batched.p50,
           batched.p99);
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9s %9s\n",
           "relay fetch+ack (pages of 100)", drain.seconds, drain.requests, drain.envelopes,
           rate(&drain), "-", "-");
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9s %9s\n",
           "sqlite insert, 1 row/txn", base.single.seconds, base.single.requests,
           base.single.envelopes, rate(&base.single), "-", "-");
    snprintf(label, sizeof label, "sqlite insert, %u rows/txn", o.batch);
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9s %9s\n", label,
           base.batched.seconds, base.batched.requests, base.batched.envelopes,
           rate(&base.batched), "-", "-");
    printf("%-36s %10.2f %10" PRIu64 " %12" PRIu64 " %10.0f %9s %9s\n",
           "sqlite select+delete (pages of 100)", base.drain.seconds, base.drain.requests,
           base.drain.envelopes, rate(&base.drain), "-", "-");
    printf("\nratios relay/baseline: single send %.2fx, batched send %.2fx, fetch+ack %.2fx\n",
           rate(&base.single) > 0 ? rate(&single) / rate(&base.single) : 0,
           rate(&base.batched) > 0 ? rate(&batched) / rate(&base.batched) : 0,
           rate(&base.drain) > 0 ? rate(&drain) / rate(&base.drain) : 0);
    printf("errors: send %" PRIu64 ", batch %" PRIu64 ", drain %" PRIu64
           "; drained %" PRIu64 " of %" PRIu64 " sent\n",
           single.errors, batched.errors, drain.errors, drain.envelopes, sent);
    rc = (single.errors + batched.errors + drain.errors) == 0 ? 0 : 1;
out:
    if (g_workers != NULL) {
        for (unsigned i = 0; i < o.conns; i++) {
            rc_client_free(&g_workers[i].c);
            rc_identity_free(&g_workers[i].sender);
            rc_identity_free(&g_workers[i].rcpt);
            buf_free(&g_workers[i].content);
            free(g_workers[i].lat_ms);
        }
        free(g_workers);
    }
    if (relay != 0) {
        int ws = rp_stop(relay, 30000);
        if (ws == -1 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fprintf(stderr, "loadgen: relay did not exit cleanly (log kept in %s)\n", logp);
            rc = 1;
        }
    }
    if (rc == 0)
        rm_state(state);
    rc_global_cleanup();
    return rc;
}
