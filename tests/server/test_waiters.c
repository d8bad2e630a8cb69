/*
 * test_waiters.c: the long-poll registry: mail wakes only the waiters of its
 * account, deadlines fire in order and on time, every waiter fires exactly
 * once (notify vs timer vs cancel races), shutdown fires everything.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/api/metrics.h"
#include "server/api/waiters.h"
#include "testutil.h"

struct tw {
    struct waiter w;
    atomic_int fired;
    _Atomic int why;
    _Atomic uint64_t at_ms;
};

static void tw_fire(struct waiter *w, enum waiter_reason why)
{
    struct tw *t = (struct tw *)w;
    atomic_store(&t->why, (int)why);
    atomic_store(&t->at_ms, sp_monotonic_ms());
    atomic_fetch_add(&t->fired, 1);
}

static void tw_init(struct tw *t, int64_t account, uint64_t in_ms)
{
    memset(t, 0, sizeof *t);
    t->w.account = account;
    t->w.deadline_ms = sp_monotonic_ms() + in_ms;
    t->w.fire = tw_fire;
    t->w.arg = t;
}

static void wait_fired(struct tw *t, unsigned ms)
{
    for (unsigned i = 0; i < ms && atomic_load(&t->fired) == 0; i += 2)
        usleep(2000);
}

START_TEST(test_notify_by_account)
{
    struct metrics m;
    struct waiters *ws = NULL;
    struct tw a1, a2, b;
    metrics_init(&m);
    ck_assert_int_eq(waiters_create(&ws, &m), SP_OK);
    tw_init(&a1, 1, 60000);
    tw_init(&a2, 1, 60000);
    tw_init(&b, 1 + 1024, 60000); /* same bucket, other account */
    ck_assert_int_eq(waiters_add(ws, &a1.w), SP_OK);
    ck_assert_int_eq(waiters_add(ws, &a2.w), SP_OK);
    ck_assert_int_eq(waiters_add(ws, &b.w), SP_OK);
    ck_assert_uint_eq(waiters_count(ws), 3);
    ck_assert_int_eq(atomic_load(&m.longpolls_active), 3);
    waiters_notify(ws, 1);
    ck_assert_int_eq(atomic_load(&a1.fired), 1);
    ck_assert_int_eq(atomic_load(&a2.fired), 1);
    ck_assert_int_eq(atomic_load(&a1.why), WAITER_MAIL);
    ck_assert_int_eq(atomic_load(&b.fired), 0);
    waiters_notify(ws, 1); /* nobody left */
    waiters_notify(ws, 99);
    ck_assert_int_eq(atomic_load(&a1.fired), 1);
    ck_assert(!waiters_cancel(ws, &a1.w)); /* already fired */
    ck_assert(waiters_cancel(ws, &b.w));
    ck_assert(!waiters_cancel(ws, &b.w));
    ck_assert_int_eq(atomic_load(&b.fired), 0);
    ck_assert_uint_eq(waiters_count(ws), 0);
    ck_assert_int_eq(atomic_load(&m.longpolls_active), 0);
    waiters_destroy(ws);
    ck_assert_int_eq(atomic_load(&b.fired), 0);
}
END_TEST

START_TEST(test_deadlines_in_order)
{
    enum { N = 20 };
    struct waiters *ws = NULL;
    static struct tw t[N];
    ck_assert_int_eq(waiters_create(&ws, NULL), SP_OK);
    uint64_t start = sp_monotonic_ms();
    /* added in scrambled order, deadlines 100 .. 100 + 19*25 ms */
    for (int k = 0; k < N; k++) {
        int i = (k * 7) % N;
        tw_init(&t[i], 10 + i, 100 + (uint64_t)i * 25);
        ck_assert_int_eq(waiters_add(ws, &t[i].w), SP_OK);
    }
    wait_fired(&t[N - 1], 5000);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&t[i].fired), 1);
        ck_assert_int_eq(atomic_load(&t[i].why), WAITER_TIMEOUT);
        ck_assert_uint_ge(atomic_load(&t[i].at_ms), t[i].w.deadline_ms);
        ck_assert_uint_lt(atomic_load(&t[i].at_ms), t[i].w.deadline_ms + 1000);
        if (i > 0)
            ck_assert_uint_le(atomic_load(&t[i - 1].at_ms), atomic_load(&t[i].at_ms));
    }
    ck_assert_uint_ge(sp_monotonic_ms() - start, 100 + 19 * 25);
    /* an earlier deadline added while the timer sleeps on a later one */
    struct tw late, early;
    tw_init(&late, 1, 3000);
    tw_init(&early, 2, 50);
    ck_assert_int_eq(waiters_add(ws, &late.w), SP_OK);
    usleep(20000);
    ck_assert_int_eq(waiters_add(ws, &early.w), SP_OK);
    wait_fired(&early, 2000);
    ck_assert_int_eq(atomic_load(&early.fired), 1);
    ck_assert_int_eq(atomic_load(&late.fired), 0);
    waiters_shutdown(ws);
    ck_assert_int_eq(atomic_load(&late.fired), 1);
    ck_assert_int_eq(atomic_load(&late.why), WAITER_SHUTDOWN);
    struct tw after;
    tw_init(&after, 3, 10);
    ck_assert_int_eq(waiters_add(ws, &after.w), SP_ERR_UNAVAILABLE);
    waiters_destroy(ws);
    ck_assert_int_eq(atomic_load(&after.fired), 0);
}
END_TEST

/* notify, cancel and the timer race on the same waiters: each fires at most
 * once, and exactly once unless cancel won. */
struct race {
    struct waiters *ws;
    struct tw *t;
    int n;
    atomic_int cancelled;
};

static void *notifier(void *arg)
{
    struct race *r = arg;
    for (int round = 0; round < 50; round++)
        for (int64_t a = 0; a < 8; a++)
            waiters_notify(r->ws, a);
    return NULL;
}

static void *canceller(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < r->n; i += 3)
        if (waiters_cancel(r->ws, &r->t[i].w))
            atomic_fetch_add(&r->cancelled, 1);
    return NULL;
}

START_TEST(test_exactly_once_under_races)
{
    enum { N = 2000 };
    static struct tw t[N];
    struct race r = {.t = t, .n = N};
    pthread_t th[3];
    ck_assert_int_eq(waiters_create(&r.ws, NULL), SP_OK);
    for (int i = 0; i < N; i++) {
        tw_init(&t[i], i % 8, (uint64_t)(i % 5)); /* many already due */
        ck_assert_int_eq(waiters_add(r.ws, &t[i].w), SP_OK);
    }
    pthread_create(&th[0], NULL, notifier, &r);
    pthread_create(&th[1], NULL, canceller, &r);
    pthread_create(&th[2], NULL, notifier, &r);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    waiters_shutdown(r.ws);
    int fired = 0;
    for (int i = 0; i < N; i++) {
        int f = atomic_load(&t[i].fired);
        ck_assert_int_le(f, 1);
        fired += f;
    }
    ck_assert_int_eq(fired + atomic_load(&r.cancelled), N);
    waiters_destroy(r.ws);
}
END_TEST

static Suite *waiters_suite(void)
{
    Suite *s = suite_create("waiters");
    TCase *tc = tcase_create("waiters");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_notify_by_account);
    tcase_add_test(tc, test_deadlines_in_order);
    tcase_add_test(tc, test_exactly_once_under_races);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(waiters_suite());
}
