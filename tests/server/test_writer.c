/*
 * test_writer.c: the group-commit writer against a real SQLite store:
 * batching (many jobs, one transaction), per-job savepoints (a failing job
 * rolls back only itself), done() exactly once and in order, drain on stop,
 * refusal after stop.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/api/metrics.h"
#include "server/api/writer.h"
#include "server/store/store.h"
#include "testutil.h"

struct wfx {
    char *dir, *path;
    struct store *s;
    struct metrics m;
    struct writer *w;
};

static void wfx_open(struct wfx *f)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_tmpdir("writer");
    f->path = tu_path(f->dir, "relay.db");
    struct store_options o = {
        .path = f->path, .sync = STORE_SYNC_NORMAL, .pool_size = 3, .busy_timeout_ms = 5000};
    ck_assert_int_eq(store_open(&f->s, &o), SP_OK);
    metrics_init(&f->m);
    ck_assert_int_eq(writer_start(&f->w, f->s, &f->m), SP_OK);
}

static void wfx_close(struct wfx *f)
{
    writer_destroy(f->w);
    store_close(f->s);
    tu_rmtree(f->dir);
    free(f->path);
    free(f->dir);
}

/* A job that records a replay key and optionally fails afterwards. */
struct job {
    struct writer_job j;
    uint8_t key[32];
    sp_status fail_with; /* returned after the write; SP_OK = succeed */
    sp_status got;
    atomic_int done_calls;
    int order;
    /* gate: run() blocks until opened */
    pthread_mutex_t *gate_m;
    pthread_cond_t *gate_cv;
    bool *gate_open;
    atomic_bool *running;
};

static atomic_int done_seq;

static sp_status job_run(struct store_conn *c, void *arg)
{
    struct job *jb = arg;
    if (jb->gate_m != NULL) {
        atomic_store(jb->running, true);
        pthread_mutex_lock(jb->gate_m);
        while (!*jb->gate_open)
            pthread_cond_wait(jb->gate_cv, jb->gate_m);
        pthread_mutex_unlock(jb->gate_m);
    }
    sp_status st = store_replay_put(c, jb->key, 4000000000u);
    if (st != SP_OK)
        return st;
    return jb->fail_with;
}

static void job_done(void *arg, sp_status st)
{
    struct job *jb = arg;
    jb->got = st;
    jb->order = atomic_fetch_add(&done_seq, 1);
    atomic_fetch_add(&jb->done_calls, 1);
}

static void job_init(struct job *jb, uint8_t tag, sp_status fail_with)
{
    memset(jb, 0, sizeof *jb);
    memset(jb->key, tag, sizeof jb->key);
    jb->key[0] = 0xAB;
    jb->fail_with = fail_with;
    jb->got = SP_ERR_INTERNAL;
    jb->j.run = job_run;
    jb->j.done = job_done;
    jb->j.arg = jb;
}

/* Is the key stored? (probe in a transaction that is rolled back) */
static bool stored(struct wfx *f, const uint8_t key[32])
{
    struct store_conn *c = NULL;
    ck_assert_int_eq(store_conn_get(f->s, &c), SP_OK);
    ck_assert_int_eq(store_begin(c), SP_OK);
    sp_status st = store_replay_put(c, key, 4000000000u);
    store_rollback(c);
    store_conn_put(f->s, c);
    ck_assert(st == SP_OK || st == SP_ERR_REPLAY);
    return st == SP_ERR_REPLAY;
}

static void wait_done(struct job *jobs, size_t n)
{
    for (int spin = 0; spin < 2000; spin++) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += atomic_load(&jobs[i].done_calls) > 0;
        if (done == n)
            return;
        usleep(5000);
    }
    ck_abort_msg("jobs not done");
}

START_TEST(test_batch_one_transaction_per_batch)
{
    enum { N = 60 };
    struct wfx f;
    static struct job gate_job, jobs[N];
    pthread_mutex_t gm = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;
    bool open = false;
    atomic_bool running = false;
    wfx_open(&f);
    atomic_store(&done_seq, 0);

    job_init(&gate_job, 0xFF, SP_OK);
    gate_job.gate_m = &gm;
    gate_job.gate_cv = &gcv;
    gate_job.gate_open = &open;
    gate_job.running = &running;
    ck_assert_int_eq(writer_submit(f.w, &gate_job.j), SP_OK);
    while (!atomic_load(&running))
        usleep(1000);
    /* the writer is busy in batch 1: these queue up for batch 2 */
    for (int i = 0; i < N; i++) {
        job_init(&jobs[i], (uint8_t)i, i % 7 == 3 ? SP_ERR_CONFLICT : SP_OK);
        ck_assert_int_eq(writer_submit(f.w, &jobs[i].j), SP_OK);
    }
    pthread_mutex_lock(&gm);
    open = true;
    pthread_cond_broadcast(&gcv);
    pthread_mutex_unlock(&gm);
    wait_done(jobs, N);

    ck_assert_int_eq(gate_job.got, SP_OK);
    ck_assert(stored(&f, gate_job.key));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&jobs[i].done_calls), 1);
        ck_assert_int_eq(jobs[i].order, i + 1); /* completion in submission order */
        if (i % 7 == 3) {
            ck_assert_int_eq(jobs[i].got, SP_ERR_CONFLICT);
            ck_assert_msg(!stored(&f, jobs[i].key), "failed job %d left its write", i);
        } else {
            ck_assert_int_eq(jobs[i].got, SP_OK);
            ck_assert(stored(&f, jobs[i].key));
        }
    }
    /* two batches: 1 job, then all 60 together */
    ck_assert_uint_eq(atomic_load(&f.m.batch_count), 2);
    ck_assert_uint_eq(atomic_load(&f.m.batch_jobs_sum), N + 1);
    ck_assert_uint_eq(atomic_load(&f.m.batch_buckets[0]), 1); /* <= 1 */
    ck_assert_uint_eq(atomic_load(&f.m.batch_buckets[6]), 1); /* 33..64 */
    wfx_close(&f);
}
END_TEST

START_TEST(test_failed_job_in_same_transaction)
{
    struct wfx f;
    static struct job a, b;
    wfx_open(&f);
    /* two jobs writing the same key in one batch: the second gets REPLAY and
     * rolls back only itself */
    job_init(&a, 0x11, SP_OK);
    job_init(&b, 0x11, SP_OK);
    ck_assert_int_eq(writer_submit(f.w, &a.j), SP_OK);
    ck_assert_int_eq(writer_submit(f.w, &b.j), SP_OK);
    for (int spin = 0;
         spin < 2000 && (atomic_load(&a.done_calls) == 0 || atomic_load(&b.done_calls) == 0);
         spin++)
        usleep(5000);
    ck_assert_int_eq(a.got, SP_OK);
    ck_assert_int_eq(b.got, SP_ERR_REPLAY);
    ck_assert(stored(&f, a.key));
    wfx_close(&f);
}
END_TEST

START_TEST(test_stop_drains_and_refuses)
{
    enum { N = 300 };
    struct wfx f;
    static struct job jobs[N], late;
    wfx_open(&f);
    for (int i = 0; i < N; i++) {
        job_init(&jobs[i], (uint8_t)i, SP_OK);
        jobs[i].key[1] = (uint8_t)(i >> 8);
        ck_assert_int_eq(writer_submit(f.w, &jobs[i].j), SP_OK);
    }
    writer_stop(f.w); /* returns after every queued job is done */
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&jobs[i].done_calls), 1);
        ck_assert_int_eq(jobs[i].got, SP_OK);
    }
    job_init(&late, 0x77, SP_OK);
    ck_assert_int_eq(writer_submit(f.w, &late.j), SP_ERR_UNAVAILABLE);
    ck_assert_int_eq(atomic_load(&late.done_calls), 0);
    writer_stop(f.w); /* idempotent */
    ck_assert(stored(&f, jobs[N - 1].key));
    ck_assert(!stored(&f, late.key));
    wfx_close(&f);
}
END_TEST

struct submitter {
    struct writer *w;
    struct job *jobs;
    int n;
};

static void *submit_many(void *arg)
{
    struct submitter *sb = arg;
    for (int i = 0; i < sb->n; i++) {
        ck_assert_int_eq(writer_submit(sb->w, &sb->jobs[i].j), SP_OK);
        if (i % 16 == 0)
            usleep(100);
    }
    return NULL;
}

START_TEST(test_concurrent_submitters)
{
    enum { T = 4, N = 150 };
    struct wfx f;
    static struct job jobs[T][N];
    struct submitter sb[T];
    pthread_t th[T];
    wfx_open(&f);
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < N; i++) {
            job_init(&jobs[t][i], (uint8_t)i, SP_OK);
            jobs[t][i].key[1] = (uint8_t)t;
        }
        sb[t] = (struct submitter){f.w, jobs[t], N};
        ck_assert_int_eq(pthread_create(&th[t], NULL, submit_many, &sb[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++)
        wait_done(jobs[t], N);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(atomic_load(&jobs[t][i].done_calls), 1);
            ck_assert_int_eq(jobs[t][i].got, SP_OK);
        }
    ck_assert_uint_eq(atomic_load(&f.m.batch_jobs_sum), T * N);
    ck_assert_uint_le(atomic_load(&f.m.batch_count), T * N);
    wfx_close(&f);
}
END_TEST

static Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_batch_one_transaction_per_batch);
    tcase_add_test(tc, test_failed_job_in_same_transaction);
    tcase_add_test(tc, test_stop_drains_and_refuses);
    tcase_add_test(tc, test_concurrent_submitters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(writer_suite());
}
