/*
 * test_buf.c: common/buf, the capped buffer and the bounded reader.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "testutil.h"

START_TEST(test_append_within_cap)
{
    struct buf b;
    buf_init(&b, 8);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(buf_append(&b, (const uint8_t *)"abcd", 4), SP_OK);
    ck_assert_int_eq(buf_append_u8(&b, 'e'), SP_OK);
    ck_assert_int_eq(buf_append_str(&b, "fgh"), SP_OK);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_mem_eq(b.data, "abcdefgh", 8);
    ck_assert_uint_le(b.alloc, 8); /* growth never allocates past the cap */
    ck_assert_int_eq(buf_append(&b, NULL, 0), SP_OK);
    buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 8);
    buf_free(&b); /* idempotent */
    buf_free(NULL);
}
END_TEST

START_TEST(test_append_past_cap_keeps_contents)
{
    struct buf b;
    buf_init(&b, 10);
    ck_assert_int_eq(buf_append_str(&b, "0123456"), SP_OK);
    ck_assert_int_eq(buf_append_str(&b, "7890"), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(buf_append_be32(&b, 1), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(b.len, 7);
    ck_assert_mem_eq(b.data, "0123456", 7);
    ck_assert_int_eq(buf_append_str(&b, "789"), SP_OK);
    ck_assert_int_eq(buf_append_u8(&b, 'x'), SP_ERR_TOO_LARGE);
    ck_assert_mem_eq(b.data, "0123456789", 10);
    buf_free(&b);

    buf_init(&b, 0);
    ck_assert_int_eq(buf_append_u8(&b, 1), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(buf_reserve(&b, 0), SP_OK);
    buf_free(&b);
}
END_TEST

START_TEST(test_reserve_overflow)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    ck_assert_int_eq(buf_append_str(&b, "abc"), SP_OK);
    /* len + extra would wrap around. */
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 2), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(b.len, 3);
    buf_free(&b);

    buf_init(&b, 100);
    ck_assert_int_eq(buf_reserve(&b, 100), SP_OK);
    ck_assert_int_eq(buf_reserve(&b, 101), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_be32_and_reset)
{
    struct buf b;
    buf_init(&b, 64);
    ck_assert_int_eq(buf_append_be32(&b, 0x01020304u), SP_OK);
    ck_assert_mem_eq(b.data, "\x01\x02\x03\x04", 4);
    buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_int_eq(buf_append_str(&b, "zz"), SP_OK);
    buf_free_secret(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    buf_free_secret(NULL);
}
END_TEST

START_TEST(test_printf)
{
    struct buf b;
    buf_init(&b, 32);
    ck_assert_int_eq(buf_printf(&b, "%s=%d", "n", 42), SP_OK);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.data, "n=42", 4);
    ck_assert_int_eq(buf_printf(&b, ";%u", 7u), SP_OK);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_mem_eq(b.data, "n=42;7", 6);
    /* Too long: fails and changes nothing. */
    ck_assert_int_eq(buf_printf(&b, "%030d", 1), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_mem_eq(b.data, "n=42;7", 6);
    /* Exactly filling the cap needs room for vsnprintf's terminator too. */
    ck_assert_int_eq(buf_printf(&b, "%025d", 1), SP_OK);
    ck_assert_uint_eq(b.len, 31);
    buf_free(&b);
}
END_TEST

START_TEST(test_steal)
{
    struct buf b;
    size_t len = 99;
    buf_init(&b, 16);
    ck_assert_int_eq(buf_append_str(&b, "hello"), SP_OK);
    uint8_t *p = buf_steal(&b, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(p, "hello", 5);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.alloc, 0);
    ck_assert_uint_eq(b.cap, 16);
    /* The buffer is usable again and independent of the stolen storage. */
    ck_assert_int_eq(buf_append_str(&b, "x"), SP_OK);
    ck_assert_mem_eq(p, "hello", 5);
    free(p);
    buf_free(&b);

    buf_init(&b, 16);
    p = buf_steal(&b, &len);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_reader_bounds)
{
    static const uint8_t data[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02};
    struct reader r;
    uint8_t u8 = 0, out[8] = {0};
    uint32_t u32 = 0;
    const uint8_t *borrowed = NULL;

    reader_init(&r, data, sizeof data);
    ck_assert_uint_eq(reader_remaining(&r), 6);
    ck_assert_int_eq(reader_be32(&r, &u32), SP_OK);
    ck_assert_uint_eq(u32, 0xdeadbeefu);
    ck_assert_uint_eq(reader_remaining(&r), 2);
    /* Reads past the end fail and leave position and output untouched. */
    u32 = 7;
    ck_assert_int_eq(reader_be32(&r, &u32), SP_ERR_MALFORMED);
    ck_assert_uint_eq(u32, 7);
    ck_assert_int_eq(reader_copy(&r, out, 3), SP_ERR_MALFORMED);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_int_eq(reader_borrow(&r, &borrowed, 3), SP_ERR_MALFORMED);
    ck_assert_ptr_null(borrowed);
    ck_assert_int_eq(reader_borrow(&r, &borrowed, SIZE_MAX), SP_ERR_MALFORMED);
    ck_assert_uint_eq(reader_remaining(&r), 2);
    ck_assert_int_eq(reader_u8(&r, &u8), SP_OK);
    ck_assert_uint_eq(u8, 0x01);
    ck_assert_int_eq(reader_borrow(&r, &borrowed, 1), SP_OK);
    ck_assert_ptr_eq(borrowed, data + 5);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    u8 = 9;
    ck_assert_int_eq(reader_u8(&r, &u8), SP_ERR_MALFORMED);
    ck_assert_uint_eq(u8, 9);
    ck_assert_int_eq(reader_copy(&r, out, 0), SP_OK);
    ck_assert_uint_eq(reader_remaining(&r), 0);

    reader_init(&r, NULL, 0);
    ck_assert_int_eq(reader_u8(&r, &u8), SP_ERR_MALFORMED);
    ck_assert_int_eq(reader_borrow(&r, &borrowed, 0), SP_OK);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_append_within_cap);
    tcase_add_test(tc, test_append_past_cap_keeps_contents);
    tcase_add_test(tc, test_reserve_overflow);
    tcase_add_test(tc, test_be32_and_reset);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_steal);
    tcase_add_test(tc, test_reader_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(buf_suite());
}
