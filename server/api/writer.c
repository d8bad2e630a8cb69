/*
 * writer.c: the group-commit thread (see writer.h).
 *
 * Invariants: jobs form a FIFO singly linked through job->next, guarded by
 * `lock`; only the writer thread touches the store connection; `stopping`
 * only goes from false to true, after which no job is queued, and the thread
 * exits once the queue is empty, so every accepted job gets exactly one
 * done().
 */
#include "server/api/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "server/api/metrics.h"
#include "server/store/store.h"

struct writer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct writer_job *head, *tail;
    bool stopping;
    bool joined;
    pthread_t thread;
    struct store *store;
    struct store_conn *conn;
    struct metrics *metrics;
};

/* Run one batch in one transaction; statuses land in job->status. */
static void run_batch(struct writer *w, struct writer_job *batch, size_t n)
{
    sp_status st = store_begin(w->conn);
    if (st != SP_OK) {
        for (struct writer_job *j = batch; j != NULL; j = j->next)
            j->status = st;
        SP_LOG_W("writer: BEGIN failed: %s", sp_status_name(st));
        goto done;
    }
    bool any_ok = false;
    for (struct writer_job *j = batch; j != NULL; j = j->next) {
        j->status = store_savepoint(w->conn);
        if (j->status != SP_OK)
            continue;
        j->status = j->run(w->conn, j->arg);
        if (j->status == SP_OK)
            j->status = store_release(w->conn);
        if (j->status != SP_OK)
            store_rollback_to(w->conn);
        else
            any_ok = true;
    }
    st = any_ok ? store_commit(w->conn) : SP_OK;
    if (!any_ok) {
        store_rollback(w->conn); /* nothing to keep: skip the fsync */
    } else if (st != SP_OK) {
        store_rollback(w->conn);
        SP_LOG_W("writer: COMMIT of %zu jobs failed: %s", n, sp_status_name(st));
        if (w->metrics != NULL)
            metrics_add(w->metrics, M_WRITER_COMMIT_FAILURES, 1);
        for (struct writer_job *j = batch; j != NULL; j = j->next)
            if (j->status == SP_OK)
                j->status = st;
    }
done:
    if (w->metrics != NULL)
        metrics_batch(w->metrics, n);
    for (struct writer_job *j = batch; j != NULL;) {
        /* done() may end the job's lifetime: read next first. */
        struct writer_job *next = j->next;
        j->done(j->arg, j->status);
        j = next;
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head == NULL)
            break; /* stopping and drained */
        struct writer_job *batch = w->head, *last = w->head;
        size_t n = 1;
        while (last->next != NULL && n < WRITER_MAX_BATCH) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->lock);
        run_batch(w, batch, n);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

sp_status writer_start(struct writer **out, struct store *store, struct metrics *metrics)
{
    sp_status st = SP_OK;
    struct writer *w = NULL;
    bool locks = false;

    *out = NULL;
    w = calloc(1, sizeof *w);
    ENSURE(w != NULL, SP_ERR_NOMEM);
    w->store = store;
    w->metrics = metrics;
    ENSURE(pthread_mutex_init(&w->lock, NULL) == 0, SP_ERR_INTERNAL);
    if (pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        st = SP_ERR_INTERNAL;
        goto out;
    }
    locks = true;
    TRY(store_conn_get(store, &w->conn));
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        store_conn_put(store, w->conn);
        st = SP_ERR_INTERNAL;
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (w != NULL) {
        if (locks) {
            pthread_cond_destroy(&w->cond);
            pthread_mutex_destroy(&w->lock);
        }
        free(w);
    }
    return st;
}

sp_status writer_submit(struct writer *w, struct writer_job *job)
{
    sp_status st = SP_OK;
    job->next = NULL;
    job->status = SP_OK;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        st = SP_ERR_UNAVAILABLE;
    } else {
        if (w->tail != NULL)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return st;
}

void writer_stop(struct writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    bool join = !w->joined;
    w->joined = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (join) {
        pthread_join(w->thread, NULL);
        store_conn_put(w->store, w->conn);
        w->conn = NULL;
    }
}

void writer_destroy(struct writer *w)
{
    if (w == NULL)
        return;
    writer_stop(w);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
