/*
 * test_status_limits.c: common/status (total tables) and common/limits.
 */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "common/status.h"
#include "testutil.h"

START_TEST(test_status_tables_total)
{
    for (int i = 0; i < SP_STATUS_COUNT; i++) {
        const char *msg = sp_strerror((sp_status)i);
        const char *name = sp_status_name((sp_status)i);
        ck_assert_ptr_nonnull(msg);
        ck_assert_ptr_nonnull(name);
        ck_assert_msg(strcmp(msg, "unknown status") != 0, "no message for %d", i);
        ck_assert_msg(strcmp(name, "UNKNOWN") != 0, "no name for %d", i);
        ck_assert_uint_gt(strlen(msg), 0);
        /* Names are unique identifiers. */
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(name, sp_status_name((sp_status)j));
    }
    ck_assert_str_eq(sp_status_name(SP_OK), "OK");
    ck_assert_str_eq(sp_status_name(SP_ERR_MAILBOX_FULL), "MAILBOX_FULL");
    /* The values are wire codes: spot-check that none moved. */
    ck_assert_int_eq(SP_ERR_MALFORMED, 3);
    ck_assert_int_eq(SP_ERR_RATE_LIMITED, 16);
    ck_assert_int_eq(SP_ERR_INVALID_KEY_ID, 30);
}
END_TEST

START_TEST(test_status_out_of_range)
{
    ck_assert_str_eq(sp_strerror((sp_status)SP_STATUS_COUNT), "unknown status");
    ck_assert_str_eq(sp_strerror((sp_status)-1), "unknown status");
    ck_assert_str_eq(sp_strerror((sp_status)100000), "unknown status");
    ck_assert_str_eq(sp_status_name((sp_status)SP_STATUS_COUNT), "UNKNOWN");
    ck_assert_str_eq(sp_status_name((sp_status)-5), "UNKNOWN");
}
END_TEST

START_TEST(test_limits_defaults_valid)
{
    struct sp_limits l;
    const char *what = "sentinel";
    sp_limits_defaults(&l);
    ck_assert_int_eq(sp_limits_validate(&l, &what), SP_OK);
    ck_assert_ptr_null(what);
    ck_assert_int_eq(sp_limits_validate(&l, NULL), SP_OK);
    ck_assert_uint_eq(l.max_envelope_bytes, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_uint_eq(l.max_prekeys_per_upload, SP_HARD_MAX_PREKEYS_PER_UPLOAD);
}
END_TEST

/* Each field, pushed just outside its range, is rejected by name. */
#define OFF(f) offsetof(struct sp_limits, f)
static const struct {
    const char *name;
    size_t off;
    int wide; /* uint64_t member */
    uint64_t bad_low, bad_high, good_low, good_high;
} limit_cases[] = {
    {"max_body_bytes", OFF(max_body_bytes), 0, 1023, SP_HARD_MAX_BODY_BYTES + 1ull, 0,
     SP_HARD_MAX_BODY_BYTES},
    {"max_envelope_bytes", OFF(max_envelope_bytes), 0, SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET - 1,
     SP_HARD_MAX_ENVELOPE_BYTES + 1ull, SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET,
     SP_HARD_MAX_ENVELOPE_BYTES},
    {"max_envelopes_per_request", OFF(max_envelopes_per_request), 0, 0,
     SP_HARD_MAX_ENVELOPES_PER_REQ + 1ull, 1, SP_HARD_MAX_ENVELOPES_PER_REQ},
    {"max_prekeys_per_upload", OFF(max_prekeys_per_upload), 0, 0,
     SP_HARD_MAX_PREKEYS_PER_UPLOAD + 1ull, 1, SP_HARD_MAX_PREKEYS_PER_UPLOAD},
    {"max_prekeys_per_account", OFF(max_prekeys_per_account), 0, 0, 100001, 1, 100000},
    {"mailbox_max_messages", OFF(mailbox_max_messages), 0, 0, 10000001, 1, 10000000},
    {"mailbox_max_bytes", OFF(mailbox_max_bytes), 1, SP_HARD_MAX_ENVELOPE_BYTES - 1ull,
     64ull * 1024 * 1024 * 1024 + 1, SP_HARD_MAX_ENVELOPE_BYTES, 64ull * 1024 * 1024 * 1024},
    {"fetch_max_envelopes", OFF(fetch_max_envelopes), 0, 0, SP_HARD_MAX_FETCH_ENVELOPES + 1ull, 1,
     SP_HARD_MAX_FETCH_ENVELOPES},
    {"max_wait_s", OFF(max_wait_s), 0, UINT64_MAX, SP_HARD_MAX_WAIT_S + 1ull, 0,
     SP_HARD_MAX_WAIT_S},
    {"max_ack_ids", OFF(max_ack_ids), 0, 0, SP_HARD_MAX_ACK_IDS + 1ull, 1, SP_HARD_MAX_ACK_IDS},
    {"token_ttl_s", OFF(token_ttl_s), 0, 59, 7 * 24 * 3600 + 1, 60, 7 * 24 * 3600},
    {"proof_window_s", OFF(proof_window_s), 0, 9, 3601, 10, 3600},
    {"bundle_fetches_per_target", OFF(bundle_fetches_per_target), 0, 0, 100001, 1, 100000},
    {"bundle_fetch_window_s", OFF(bundle_fetch_window_s), 0, 0, 7 * 24 * 3600 + 1, 1,
     7 * 24 * 3600},
    {"envelope_ttl_s", OFF(envelope_ttl_s), 0, 3599, 365ull * 24 * 3600 + 1, 3600,
     365ull * 24 * 3600},
};
#define N_LIMIT_CASES ((int)(sizeof limit_cases / sizeof limit_cases[0]))

static void set_field(struct sp_limits *l, int i, uint64_t v)
{
    uint8_t *p = (uint8_t *)l + limit_cases[i].off;
    if (limit_cases[i].wide)
        memcpy(p, &v, sizeof v);
    else {
        uint32_t v32 = (uint32_t)v;
        memcpy(p, &v32, sizeof v32);
    }
}

START_TEST(test_limits_field_ranges)
{
    struct sp_limits l;
    const char *what = NULL;
    /* max_body_bytes must also hold one maximal envelope; keep it apart. */
    bool body = _i == 0;

    sp_limits_defaults(&l);
    set_field(&l, _i, limit_cases[_i].bad_high);
    ck_assert_int_eq(sp_limits_validate(&l, &what), SP_ERR_USAGE);
    ck_assert_str_eq(what, limit_cases[_i].name);

    if (limit_cases[_i].bad_low != UINT64_MAX) {
        sp_limits_defaults(&l);
        set_field(&l, _i, limit_cases[_i].bad_low);
        what = NULL;
        ck_assert_int_eq(sp_limits_validate(&l, &what), SP_ERR_USAGE);
        ck_assert_str_eq(what, limit_cases[_i].name);
    }

    sp_limits_defaults(&l);
    set_field(&l, _i, limit_cases[_i].good_high);
    ck_assert_int_eq(sp_limits_validate(&l, &what), SP_OK);
    if (!body) {
        sp_limits_defaults(&l);
        if (_i == 1) /* smallest envelope limit */
            l.max_body_bytes = 1024;
        set_field(&l, _i, limit_cases[_i].good_low);
        ck_assert_int_eq(sp_limits_validate(&l, &what), SP_OK);
    }
}
END_TEST

START_TEST(test_limits_body_holds_envelope)
{
    struct sp_limits l;
    const char *what = NULL;
    sp_limits_defaults(&l);
    l.max_body_bytes = l.max_envelope_bytes + 63;
    ck_assert_int_eq(sp_limits_validate(&l, &what), SP_ERR_USAGE);
    ck_assert_str_eq(what, "max_body_bytes");
    l.max_body_bytes = l.max_envelope_bytes + 64;
    ck_assert_int_eq(sp_limits_validate(&l, &what), SP_OK);
}
END_TEST

static Suite *status_limits_suite(void)
{
    Suite *s = suite_create("status_limits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_tables_total);
    tcase_add_test(tc, test_status_out_of_range);
    tcase_add_test(tc, test_limits_defaults_valid);
    tcase_add_loop_test(tc, test_limits_field_ranges, 0, N_LIMIT_CASES);
    tcase_add_test(tc, test_limits_body_holds_envelope);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(status_limits_suite());
}
