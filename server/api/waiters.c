/*
 * waiters.c: long-poll registry (see waiters.h).
 *
 * Data: a fixed array of per-account buckets (doubly linked lists, so cancel
 * is O(1)) and a binary min-heap of all registered waiters ordered by
 * deadline, whose top the timer thread sleeps on (a CLOCK_MONOTONIC condvar
 * timed wait). Everything is guarded by one mutex; fire() callbacks run after
 * it is released, from a private list built under it.
 */
#include "server/api/waiters.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "server/api/metrics.h"

#define N_BUCKETS 1024

struct waiters {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    struct waiter *buckets[N_BUCKETS];
    struct waiter **heap;
    size_t n, alloc;
    bool closed, stop;
    pthread_t timer;
    struct metrics *metrics;
};

static size_t bucket_of(int64_t account)
{
    uint64_t h = (uint64_t)account * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 54) % N_BUCKETS;
}

/* ---- heap (lock held) */

static void heap_set(struct waiters *ws, size_t i, struct waiter *w)
{
    ws->heap[i] = w;
    w->heap_idx = i;
}

static void sift_up(struct waiters *ws, size_t i)
{
    struct waiter *w = ws->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ws->heap[parent]->deadline_ms <= w->deadline_ms)
            break;
        heap_set(ws, i, ws->heap[parent]);
        i = parent;
    }
    heap_set(ws, i, w);
}

static void sift_down(struct waiters *ws, size_t i)
{
    struct waiter *w = ws->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = w->deadline_ms;
        if (l < ws->n && ws->heap[l]->deadline_ms < best) {
            m = l;
            best = ws->heap[l]->deadline_ms;
        }
        if (r < ws->n && ws->heap[r]->deadline_ms < best)
            m = r;
        if (m == i)
            break;
        heap_set(ws, i, ws->heap[m]);
        i = m;
    }
    heap_set(ws, i, w);
}

static void heap_remove(struct waiters *ws, struct waiter *w)
{
    size_t i = w->heap_idx;
    struct waiter *last = ws->heap[--ws->n];
    if (i == ws->n)
        return;
    heap_set(ws, i, last);
    sift_down(ws, i);
    sift_up(ws, last->heap_idx);
}

/* Take w out of both structures (lock held). */
static void unlink_waiter(struct waiters *ws, struct waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        ws->buckets[bucket_of(w->account)] = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    heap_remove(ws, w);
    w->registered = false;
    w->next = w->prev = NULL;
    if (ws->metrics != NULL)
        metrics_longpoll(ws->metrics, -1);
}

/* Fire a private list (lock NOT held). */
static void fire_list(struct waiter *list, enum waiter_reason why)
{
    while (list != NULL) {
        struct waiter *next = list->next; /* fire() may free list */
        list->fire(list, why);
        list = next;
    }
}

static void *timer_main(void *arg)
{
    struct waiters *ws = arg;
    pthread_mutex_lock(&ws->lock);
    while (!ws->stop) {
        if (ws->n == 0) {
            pthread_cond_wait(&ws->cond, &ws->lock);
            continue;
        }
        uint64_t now = sp_monotonic_ms();
        uint64_t first = ws->heap[0]->deadline_ms;
        if (first > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ms = first - now;
            ts.tv_sec += (time_t)(ms / 1000);
            ts.tv_nsec += (long)(ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            int rc = pthread_cond_timedwait(&ws->cond, &ws->lock, &ts);
            (void)rc; /* ETIMEDOUT or a signal: re-examine either way */
            continue;
        }
        struct waiter *list = NULL;
        size_t n = 0;
        while (ws->n > 0 && ws->heap[0]->deadline_ms <= now) {
            struct waiter *w = ws->heap[0];
            unlink_waiter(ws, w);
            w->next = list;
            list = w;
            n++;
        }
        if (ws->metrics != NULL)
            metrics_add(ws->metrics, M_LONGPOLL_TIMED_OUT, n);
        pthread_mutex_unlock(&ws->lock);
        fire_list(list, WAITER_TIMEOUT);
        pthread_mutex_lock(&ws->lock);
    }
    pthread_mutex_unlock(&ws->lock);
    return NULL;
}

sp_status waiters_create(struct waiters **out, struct metrics *metrics)
{
    sp_status st = SP_OK;
    struct waiters *ws = NULL;
    pthread_condattr_t attr;
    bool attr_ok = false, mutex_ok = false, cond_ok = false;

    *out = NULL;
    ws = calloc(1, sizeof *ws);
    ENSURE(ws != NULL, SP_ERR_NOMEM);
    ws->metrics = metrics;
    ws->alloc = 64;
    ws->heap = calloc(ws->alloc, sizeof *ws->heap);
    ENSURE(ws->heap != NULL, SP_ERR_NOMEM);
    ENSURE(pthread_condattr_init(&attr) == 0, SP_ERR_INTERNAL);
    attr_ok = true;
    ENSURE(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0, SP_ERR_INTERNAL);
    ENSURE(pthread_mutex_init(&ws->lock, NULL) == 0, SP_ERR_INTERNAL);
    mutex_ok = true;
    ENSURE(pthread_cond_init(&ws->cond, &attr) == 0, SP_ERR_INTERNAL);
    cond_ok = true;
    ENSURE(pthread_create(&ws->timer, NULL, timer_main, ws) == 0, SP_ERR_INTERNAL);
    *out = ws;
    ws = NULL;
out:
    if (attr_ok)
        pthread_condattr_destroy(&attr);
    if (ws != NULL) {
        if (cond_ok)
            pthread_cond_destroy(&ws->cond);
        if (mutex_ok)
            pthread_mutex_destroy(&ws->lock);
        free(ws->heap);
        free(ws);
    }
    return st;
}

void waiters_destroy(struct waiters *ws)
{
    if (ws == NULL)
        return;
    waiters_shutdown(ws);
    pthread_mutex_lock(&ws->lock);
    ws->stop = true;
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    pthread_join(ws->timer, NULL);
    pthread_cond_destroy(&ws->cond);
    pthread_mutex_destroy(&ws->lock);
    free(ws->heap);
    free(ws);
}

sp_status waiters_add(struct waiters *ws, struct waiter *w)
{
    sp_status st = SP_OK;
    pthread_mutex_lock(&ws->lock);
    ENSURE(!ws->closed, SP_ERR_UNAVAILABLE);
    if (ws->n == ws->alloc) {
        size_t alloc = ws->alloc * 2;
        struct waiter **heap = realloc(ws->heap, alloc * sizeof *heap);
        ENSURE(heap != NULL, SP_ERR_NOMEM);
        ws->heap = heap;
        ws->alloc = alloc;
    }
    size_t b = bucket_of(w->account);
    w->prev = NULL;
    w->next = ws->buckets[b];
    if (w->next != NULL)
        w->next->prev = w;
    ws->buckets[b] = w;
    heap_set(ws, ws->n++, w);
    sift_up(ws, w->heap_idx);
    w->registered = true;
    if (ws->metrics != NULL)
        metrics_longpoll(ws->metrics, 1);
    if (ws->heap[0] == w)
        pthread_cond_signal(&ws->cond); /* new earliest deadline */
out:
    pthread_mutex_unlock(&ws->lock);
    return st;
}

bool waiters_cancel(struct waiters *ws, struct waiter *w)
{
    bool removed = false;
    pthread_mutex_lock(&ws->lock);
    if (w->registered) {
        unlink_waiter(ws, w);
        removed = true;
    }
    pthread_mutex_unlock(&ws->lock);
    return removed;
}

void waiters_notify(struct waiters *ws, int64_t account)
{
    struct waiter *list = NULL;
    size_t n = 0;
    pthread_mutex_lock(&ws->lock);
    struct waiter *w = ws->buckets[bucket_of(account)];
    while (w != NULL) {
        struct waiter *next = w->next;
        if (w->account == account) {
            unlink_waiter(ws, w);
            w->next = list;
            list = w;
            n++;
        }
        w = next;
    }
    pthread_mutex_unlock(&ws->lock);
    if (ws->metrics != NULL)
        metrics_add(ws->metrics, M_LONGPOLL_WOKEN_BY_MAIL, n);
    fire_list(list, WAITER_MAIL);
}

void waiters_shutdown(struct waiters *ws)
{
    struct waiter *list = NULL;
    pthread_mutex_lock(&ws->lock);
    ws->closed = true;
    while (ws->n > 0) {
        struct waiter *w = ws->heap[0];
        unlink_waiter(ws, w);
        w->next = list;
        list = w;
    }
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    fire_list(list, WAITER_SHUTDOWN);
}

size_t waiters_count(struct waiters *ws)
{
    pthread_mutex_lock(&ws->lock);
    size_t n = ws->n;
    pthread_mutex_unlock(&ws->lock);
    return n;
}
