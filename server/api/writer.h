/*
 * writer.h: the group-commit writer. Every write of the relay goes through
 * the one writer thread.
 *
 * A job is { run(conn, arg) -> status, done(arg, status) }. The thread takes
 * every queued job (at most WRITER_MAX_BATCH at a time), opens one BEGIN
 * IMMEDIATE transaction, runs each job inside its own savepoint (a failed job
 * rolls back only itself), COMMITs once, and then calls each job's done()
 * with its final status, in submission order. If the commit fails, every job
 * that had succeeded gets the commit's error instead: nothing of the batch
 * was stored. One fsync thus covers many requests.
 *
 * Thread rules: writer_submit() may be called from any thread. run() and
 * done() execute on the writer thread; run() must only use the connection it
 * is given, and done() must be quick (it typically stores the status and
 * wakes an HTTP call). A job is owned by the submitter and must stay alive
 * until done() has been called; the writer never frees it.
 */
#ifndef SEALPOST_SERVER_API_WRITER_H
#define SEALPOST_SERVER_API_WRITER_H

#include <stddef.h>

#include "common/status.h"

struct metrics;
struct store;
struct store_conn;
struct writer;

#define WRITER_MAX_BATCH 512

struct writer_job {
    sp_status (*run)(struct store_conn *c, void *arg);
    void (*done)(void *arg, sp_status st);
    void *arg;
    /* private to the writer */
    struct writer_job *next;
    sp_status status;
};

/* Start the thread; it holds one pooled connection of `store` until
 * writer_stop(). `metrics` may be NULL. */
SP_WARN_UNUSED sp_status writer_start(struct writer **out, struct store *store,
                                      struct metrics *metrics);
/* Queue a job. SP_ERR_UNAVAILABLE after writer_stop() began: then done() is
 * never called and the caller still owns the job. */
SP_WARN_UNUSED sp_status writer_submit(struct writer *w, struct writer_job *job);
/* Refuse new jobs, finish every queued one (each gets its done()), stop the
 * thread and give the connection back. Idempotent. */
void writer_stop(struct writer *w);
/* writer_stop() if needed, then free. NULL-safe. */
void writer_destroy(struct writer *w);

#endif
