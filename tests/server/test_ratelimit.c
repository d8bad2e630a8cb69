/*
 * test_ratelimit.c: token buckets: burst, continuous refill, retry_after,
 * remaining, independent keys, bounded memory under key floods.
 */
#include "server/api/ratelimit.h"
#include "testutil.h"

START_TEST(test_burst_and_refill)
{
    struct ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_create(&rl, 10, 3600, 64), SP_OK);
    uint64_t t = 1000000;
    for (uint32_t i = 0; i < 10; i++) {
        struct ratelimit_result r = ratelimit_take(rl, 1, 2, t);
        ck_assert(r.allowed);
        ck_assert_uint_eq(r.remaining, 9 - i);
    }
    struct ratelimit_result r = ratelimit_take(rl, 1, 2, t);
    ck_assert(!r.allowed);
    ck_assert_uint_eq(r.remaining, 0);
    ck_assert_uint_eq(r.retry_after_s, 360); /* one request per 360 s */
    r = ratelimit_take(rl, 1, 2, t + 359);
    ck_assert(!r.allowed);
    ck_assert_uint_eq(r.retry_after_s, 1);
    r = ratelimit_take(rl, 1, 2, t + 360);
    ck_assert(r.allowed);
    ck_assert_uint_eq(r.remaining, 0);
    /* other keys (either half) are independent */
    ck_assert(ratelimit_take(rl, 1, 3, t).allowed);
    ck_assert(ratelimit_take(rl, 2, 2, t).allowed);
    /* after a full window the bucket is full again, not more */
    r = ratelimit_take(rl, 1, 2, t + 360 + 100000);
    ck_assert(r.allowed);
    ck_assert_uint_eq(r.remaining, 9);
    /* a clock that steps back refills nothing and breaks nothing */
    for (int i = 0; i < 9; i++)
        ck_assert(ratelimit_take(rl, 1, 2, t).allowed);
    ck_assert(!ratelimit_take(rl, 1, 2, t).allowed);
    ratelimit_destroy(rl);
    ratelimit_destroy(NULL);
}
END_TEST

START_TEST(test_disabled_and_invalid)
{
    struct ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_create(&rl, 0, 60, 16), SP_OK);
    for (int i = 0; i < 1000; i++)
        ck_assert(ratelimit_take(rl, 5, 5, 1).allowed);
    ratelimit_destroy(rl);
    ck_assert_int_eq(ratelimit_create(&rl, 5, 0, 16), SP_ERR_USAGE);
    ck_assert_ptr_null(rl);
}
END_TEST

/* A flood of distinct keys cannot grow memory, and a busy key that is still
 * limited is not the first to be evicted when fuller buckets exist. */
START_TEST(test_bounded_table)
{
    struct ratelimit *rl = NULL;
    ck_assert_int_eq(ratelimit_create(&rl, 3, 60, 1024), SP_OK);
    for (int i = 0; i < 3; i++)
        ck_assert(ratelimit_take(rl, 7, 7, 100).allowed);
    ck_assert(!ratelimit_take(rl, 7, 7, 100).allowed);
    for (uint64_t k = 0; k < 200000; k++)
        (void)ratelimit_take(rl, 1000 + k, 0, 100);
    ck_assert(!ratelimit_take(rl, 7, 7, 100).allowed);
    ratelimit_destroy(rl);
}
END_TEST

static Suite *ratelimit_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("ratelimit");
    tcase_add_test(tc, test_burst_and_refill);
    tcase_add_test(tc, test_disabled_and_invalid);
    tcase_add_test(tc, test_bounded_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(ratelimit_suite());
}
