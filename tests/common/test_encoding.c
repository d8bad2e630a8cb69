/*
 * test_encoding.c: common/encoding, RFC 4648 vectors and strict decoding.
 *
 * Our base32 is the RFC alphabet in lower case without padding, and
 * base64url has no padding, so the RFC 4648 §10 vectors appear here in that
 * form.
 */
#include <check.h>
#include <string.h>

#include "common/encoding.h"
#include "testutil.h"

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b32[] = {"", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"};
static const char *const b64[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
static const char *const hex[] = {"", "66", "666f", "666f6f", "666f6f62", "666f6f6261",
                                  "666f6f626172"};

typedef sp_status (*enc_fn)(char *, size_t, const uint8_t *, size_t);
typedef sp_status (*dec_fn)(uint8_t *, size_t, size_t *, const char *, size_t);

static void check_vector(enc_fn enc, dec_fn dec, const char *in, const char *expect)
{
    char text[64];
    uint8_t bytes[32];
    size_t n = 999;
    size_t in_len = strlen(in);
    ck_assert_int_eq(enc(text, sizeof text, (const uint8_t *)in, in_len), SP_OK);
    ck_assert_str_eq(text, expect);
    ck_assert_int_eq(dec(bytes, sizeof bytes, &n, expect, strlen(expect)), SP_OK);
    ck_assert_uint_eq(n, in_len);
    ck_assert_mem_eq(bytes, in, in_len);
}

START_TEST(test_rfc4648_vectors)
{
    check_vector(base32_encode, base32_decode, plain[_i], b32[_i]);
    check_vector(base64url_encode, base64url_decode, plain[_i], b64[_i]);
    check_vector(hex_encode, hex_decode, plain[_i], hex[_i]);
    ck_assert_uint_eq(base32_encoded_len(strlen(plain[_i])), strlen(b32[_i]));
    ck_assert_uint_eq(base64url_encoded_len(strlen(plain[_i])), strlen(b64[_i]));
}
END_TEST

START_TEST(test_round_trip_all_lengths)
{
    uint8_t in[70], out[70];
    char text[200];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t n = 0;
        ck_assert_int_eq(base32_encode(text, sizeof text, in, len), SP_OK);
        ck_assert_uint_eq(strlen(text), base32_encoded_len(len));
        ck_assert_int_eq(base32_decode(out, sizeof out, &n, text, strlen(text)), SP_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, in, len) == 0);
        ck_assert_int_eq(base64url_encode(text, sizeof text, in, len), SP_OK);
        ck_assert_uint_eq(strlen(text), base64url_encoded_len(len));
        ck_assert_int_eq(base64url_decode(out, sizeof out, &n, text, strlen(text)), SP_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, in, len) == 0);
        ck_assert_int_eq(hex_encode(text, sizeof text, in, len), SP_OK);
        ck_assert_int_eq(hex_decode(out, sizeof out, &n, text, strlen(text)), SP_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, in, len) == 0);
    }
}
END_TEST

START_TEST(test_case_handling)
{
    uint8_t out[16];
    size_t n = 0;
    /* base32 and hex accept upper case; base64url is case-sensitive by nature. */
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "MZXW6YTBOI", 10), SP_OK);
    ck_assert_mem_eq(out, "foobar", 6);
    ck_assert_int_eq(hex_decode(out, sizeof out, &n, "DEADbeef", 8), SP_OK);
    ck_assert_mem_eq(out, "\xde\xad\xbe\xef", 4);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "zM9V", 4), SP_OK);
    ck_assert(memcmp(out, "foo", 3) != 0);
}
END_TEST

START_TEST(test_reject_bad_characters)
{
    uint8_t out[32];
    size_t n = 0;
    static const char *const bad32[] = {"mzxw6yt=", "mzxw 6yq", "mzxw6y1b", "mzxw6y8b",
                                        "mzxw6y+b", "mzxw\n6yq", "my==", "m\0"};
    static const char *const bad64[] = {"Zm9v+mFy", "Zm9v/mFy", "Zm9vYg==", "Zm9vY g",
                                        "Zm9vY.", "Zg=", "Zm9*"};
    static const char *const badhex[] = {"6g", "0x66", "66 6f", "--", "6f6"};
    for (size_t i = 0; i < sizeof bad32 / sizeof bad32[0]; i++) {
        size_t len = strlen(bad32[i]);
        if (len == 1) /* "m\0": embedded NUL */
            len = 2;
        ck_assert_msg(base32_decode(out, sizeof out, &n, bad32[i], len) != SP_OK, "%s",
                      bad32[i]);
    }
    for (size_t i = 0; i < sizeof bad64 / sizeof bad64[0]; i++)
        ck_assert_msg(base64url_decode(out, sizeof out, &n, bad64[i], strlen(bad64[i])) != SP_OK,
                      "%s", bad64[i]);
    for (size_t i = 0; i < sizeof badhex / sizeof badhex[0]; i++)
        ck_assert_msg(hex_decode(out, sizeof out, &n, badhex[i], strlen(badhex[i])) != SP_OK,
                      "%s", badhex[i]);
    /* Padding '=' is never accepted, even in a correctly padded RFC form. */
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "my======", 8), SP_ERR_MALFORMED);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Zg==", 4), SP_ERR_MALFORMED);
}
END_TEST

START_TEST(test_reject_noncanonical_trailing_bits)
{
    uint8_t out[8];
    size_t n = 0;
    /* "f" = "my": 'y' carries 2 data bits and 3 zero bits. "mz" sets one of them. */
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "my", 2), SP_OK);
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "mz", 2), SP_ERR_MALFORMED);
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "m7", 2), SP_ERR_MALFORMED);
    /* "f" = "Zg": 'g' = 32 = 100000b, 4 trailing zero bits. "Zh" is not canonical. */
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Zh", 2), SP_ERR_MALFORMED);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Zm9", 3), SP_ERR_MALFORMED);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Zm8", 3), SP_OK);
}
END_TEST

START_TEST(test_reject_wrong_lengths)
{
    uint8_t out[16];
    size_t n = 0;
    /* Lengths that leave a whole unused symbol cannot come from an encoder. */
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "m", 1), SP_ERR_MALFORMED);
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "mzx", 3), SP_ERR_MALFORMED);
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "mzxw6y", 6), SP_ERR_MALFORMED);
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "mzxw6ytbo", 9), SP_ERR_MALFORMED);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Z", 1), SP_ERR_MALFORMED);
    ck_assert_int_eq(base64url_decode(out, sizeof out, &n, "Zm9vY", 5), SP_ERR_MALFORMED);
    ck_assert_int_eq(hex_decode(out, sizeof out, &n, "666", 3), SP_ERR_MALFORMED);
    /* Empty input decodes to nothing. */
    ck_assert_int_eq(base32_decode(out, sizeof out, &n, "", 0), SP_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_output_too_small)
{
    char text[16];
    uint8_t out[8];
    size_t n = 0;
    const uint8_t *in = (const uint8_t *)"foobar";
    /* Encoders need room for the NUL. */
    ck_assert_int_eq(base32_encode(text, 10, in, 6), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(base32_encode(text, 11, in, 6), SP_OK);
    ck_assert_int_eq(base64url_encode(text, 8, in, 6), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(base64url_encode(text, 9, in, 6), SP_OK);
    ck_assert_int_eq(hex_encode(text, 12, in, 6), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(hex_encode(text, 13, in, 6), SP_OK);
    ck_assert_int_eq(base32_encode(text, 0, in, 0), SP_ERR_TOO_LARGE);
    /* Decoders refuse before writing past out_size. */
    memset(out, 0xcc, sizeof out);
    ck_assert_int_eq(base32_decode(out, 5, &n, "mzxw6ytboi", 10), SP_ERR_TOO_LARGE);
    ck_assert_uint_eq(out[5], 0xcc);
    ck_assert_int_eq(base32_decode(out, 6, &n, "mzxw6ytboi", 10), SP_OK);
    ck_assert_int_eq(base64url_decode(out, 5, &n, "Zm9vYmFy", 8), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(hex_decode(out, 2, &n, "666f6f", 6), SP_ERR_TOO_LARGE);
    ck_assert_int_eq(hex_decode(out, 3, &n, "666f6f", 6), SP_OK);
}
END_TEST

/* docs/PROTOCOL.md A.3: the bearer token text of 00 01 .. 1f. */
START_TEST(test_bearer_token_vector)
{
    uint8_t token[32], back[32];
    char text[64];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        token[i] = (uint8_t)i;
    ck_assert_int_eq(base64url_encode(text, sizeof text, token, sizeof token), SP_OK);
    ck_assert_str_eq(text, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    ck_assert_uint_eq(strlen(text), 43);
    ck_assert_int_eq(base64url_decode(back, sizeof back, &n, text, 43), SP_OK);
    ck_assert_uint_eq(n, 32);
    ck_assert_mem_eq(back, token, 32);
}
END_TEST

static Suite *encoding_suite(void)
{
    Suite *s = suite_create("encoding");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_rfc4648_vectors, 0, (int)(sizeof plain / sizeof plain[0]));
    tcase_add_test(tc, test_round_trip_all_lengths);
    tcase_add_test(tc, test_case_handling);
    tcase_add_test(tc, test_reject_bad_characters);
    tcase_add_test(tc, test_reject_noncanonical_trailing_bits);
    tcase_add_test(tc, test_reject_wrong_lengths);
    tcase_add_test(tc, test_output_too_small);
    tcase_add_test(tc, test_bearer_token_vector);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(encoding_suite());
}
