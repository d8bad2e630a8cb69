/*
 * test_address.c: common/address derivation, text form and matching.
 *
 * The derivation is cross-checked against a direct OpenSSL SHA256() call,
 * and two fixed vectors pin the exact output so any change to the domain
 * string, key serialisation or text encoding fails here (docs/PROTOCOL.md
 * lists the same vectors).
 */
#include <check.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/address.h"
#include "testutil.h"

/* identity key = 0x05 || 00 01 .. 1f */
#define VECTOR1_TEXT "tllt2wutqfqm3imcszbzmhhpdl2jdf22"
/* identity key = 0x05 || ff * 32 */
#define VECTOR2_TEXT "kovpoculu65jugogbgk5xovr766jbrcf"

static void key_counting(uint8_t k[static SP_PUBKEY_LEN])
{
    k[0] = 0x05;
    for (int i = 0; i < 32; i++)
        k[1 + i] = (uint8_t)i;
}

static void key_ff(uint8_t k[static SP_PUBKEY_LEN])
{
    k[0] = 0x05;
    memset(k + 1, 0xff, 32);
}

/* Independent computation: SHA256("sealpost/v1/address" || 0x00 || key)[0..20]. */
static void reference_address(uint8_t out[static SP_ADDRESS_LEN],
                              const uint8_t key[static SP_PUBKEY_LEN])
{
    uint8_t msg[19 + 1 + SP_PUBKEY_LEN], digest[SHA256_DIGEST_LENGTH];
    memcpy(msg, "sealpost/v1/address", 19);
    msg[19] = 0x00;
    memcpy(msg + 20, key, SP_PUBKEY_LEN);
    SHA256(msg, sizeof msg, digest);
    memcpy(out, digest, SP_ADDRESS_LEN);
}

START_TEST(test_derive_matches_reference)
{
    uint8_t key[SP_PUBKEY_LEN], a[SP_ADDRESS_LEN], ref[SP_ADDRESS_LEN];
    for (int seed = 0; seed < 64; seed++) {
        key[0] = 0x05;
        for (int i = 1; i < SP_PUBKEY_LEN; i++)
            key[i] = (uint8_t)(seed * 31 + i * 7);
        ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
        reference_address(ref, key);
        ck_assert_mem_eq(a, ref, SP_ADDRESS_LEN);
    }
}
END_TEST

START_TEST(test_fixed_vectors)
{
    uint8_t key[SP_PUBKEY_LEN], a[SP_ADDRESS_LEN];
    char text[SP_ADDRESS_TEXT_LEN + 1];

    key_counting(key);
    ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
    sp_address_to_text(text, a);
    printf("address vector 1: key = 05 || 00..1f -> %s\n", text);
    ck_assert_str_eq(text, VECTOR1_TEXT);

    key_ff(key);
    ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
    sp_address_to_text(text, a);
    printf("address vector 2: key = 05 || ff*32  -> %s\n", text);
    ck_assert_str_eq(text, VECTOR2_TEXT);
    fflush(stdout);
}
END_TEST

START_TEST(test_text_round_trip)
{
    uint8_t key[SP_PUBKEY_LEN], a[SP_ADDRESS_LEN], back[SP_ADDRESS_LEN];
    char text[SP_ADDRESS_TEXT_LEN + 1], upper[SP_ADDRESS_TEXT_LEN + 1];
    key_counting(key);
    ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
    sp_address_to_text(text, a);
    ck_assert_uint_eq(strlen(text), SP_ADDRESS_TEXT_LEN);
    for (size_t i = 0; i < SP_ADDRESS_TEXT_LEN; i++)
        ck_assert(strchr("abcdefghijklmnopqrstuvwxyz234567", text[i]) != NULL);
    ck_assert_int_eq(sp_address_from_text(back, text, strlen(text)), SP_OK);
    ck_assert_mem_eq(back, a, SP_ADDRESS_LEN);
    /* Either case parses to the same address. */
    for (size_t i = 0; i <= SP_ADDRESS_TEXT_LEN; i++)
        upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
    memset(back, 0, sizeof back);
    ck_assert_int_eq(sp_address_from_text(back, upper, SP_ADDRESS_TEXT_LEN), SP_OK);
    ck_assert_mem_eq(back, a, SP_ADDRESS_LEN);
}
END_TEST

START_TEST(test_from_text_rejects)
{
    uint8_t out[SP_ADDRESS_LEN];
    char buf[64];
    memset(out, 0xaa, sizeof out);
    ck_assert_int_eq(sp_address_from_text(out, VECTOR1_TEXT, 31), SP_ERR_INVALID_FIELD);
    snprintf(buf, sizeof buf, "%sa", VECTOR1_TEXT);
    ck_assert_int_eq(sp_address_from_text(out, buf, 33), SP_ERR_INVALID_FIELD);
    ck_assert_int_eq(sp_address_from_text(out, "", 0), SP_ERR_INVALID_FIELD);
    static const char bad_chars[] = {'0', '1', '8', '9', '=', ' ', '-', '/', '\0', '\xc3'};
    for (size_t i = 0; i < sizeof bad_chars; i++) {
        memcpy(buf, VECTOR1_TEXT, SP_ADDRESS_TEXT_LEN);
        buf[10] = bad_chars[i];
        ck_assert_int_eq(sp_address_from_text(out, buf, SP_ADDRESS_TEXT_LEN),
                         SP_ERR_INVALID_FIELD);
    }
    /* 32 chars carry 160 bits exactly: no spare bits, but a wrong last char
     * is still a different (valid) address, not an error. */
    memcpy(buf, VECTOR1_TEXT, SP_ADDRESS_TEXT_LEN);
    buf[31] = 'a';
    ck_assert_int_eq(sp_address_from_text(out, buf, SP_ADDRESS_TEXT_LEN), SP_OK);
}
END_TEST

START_TEST(test_matches)
{
    uint8_t key[SP_PUBKEY_LEN], other[SP_PUBKEY_LEN], a[SP_ADDRESS_LEN];
    key_counting(key);
    key_ff(other);
    ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
    ck_assert(sp_address_matches(a, key));
    ck_assert(!sp_address_matches(a, other));
    a[SP_ADDRESS_LEN - 1] ^= 1;
    ck_assert(!sp_address_matches(a, key));
    a[SP_ADDRESS_LEN - 1] ^= 1;
    key[SP_PUBKEY_LEN - 1] ^= 0x80;
    ck_assert(!sp_address_matches(a, key));
}
END_TEST

START_TEST(test_key_type_rejected)
{
    uint8_t key[SP_PUBKEY_LEN], a[SP_ADDRESS_LEN], ref[SP_ADDRESS_LEN];
    key_counting(key);
    ck_assert_int_eq(sp_address_derive(a, key), SP_OK);
    reference_address(ref, key);
    for (int t = 0; t < 256; t++) {
        if (t == 0x05)
            continue;
        key[0] = (uint8_t)t;
        ck_assert_int_eq(sp_address_derive(a, key), SP_ERR_INVALID_FIELD);
        /* Even with the right hash, a key of another type never matches. */
        ck_assert(!sp_address_matches(ref, key));
    }
}
END_TEST

static Suite *address_suite(void)
{
    Suite *s = suite_create("address");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_derive_matches_reference);
    tcase_add_test(tc, test_fixed_vectors);
    tcase_add_test(tc, test_text_round_trip);
    tcase_add_test(tc, test_from_text_rejects);
    tcase_add_test(tc, test_matches);
    tcase_add_test(tc, test_key_type_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(address_suite());
}
