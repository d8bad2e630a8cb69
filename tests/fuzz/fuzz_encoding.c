/*
 * fuzz_encoding.c: libFuzzer harness for the text codecs of common/encoding
 * (base32, base64url, hex) and sp_address_from_text (common/address).
 *
 * Input: selector byte (codec), size byte (output buffer size), then text.
 * The decoder writes into a heap buffer of exactly that size, so ASan flags
 * any write past it. Properties:
 *   - decode: success only with *out_len <= out_size; what is accepted
 *     re-encodes to the identical text (modulo case where the decoder is
 *     documented case-insensitive: base32, hex), i.e. one value has one
 *     canonical spelling.
 *   - encode: the input bytes, encoded into an exact-size buffer, are the
 *     documented length, NUL-terminated, and decode back to themselves; one
 *     byte less of room is SP_ERR_TOO_LARGE.
 *   - addresses: sp_address_from_text accepts exactly SP_ADDRESS_TEXT_LEN
 *     characters and sp_address_to_text gives them back in lower case.
 */
#include <ctype.h>
#include <string.h>

#include "common/address.h"
#include "common/encoding.h"
#include "fuzz_harness.h"

enum { ENC_BASE32, ENC_BASE64URL, ENC_HEX, ENC_ADDRESS, ENC_TARGETS };

typedef sp_status (*decode_fn)(uint8_t *, size_t, size_t *, const char *, size_t);
typedef sp_status (*encode_fn)(char *, size_t, const uint8_t *, size_t);

static size_t hex_encoded_len(size_t n)
{
    return 2 * n;
}

static const struct codec {
    decode_fn decode;
    encode_fn encode;
    size_t (*encoded_len)(size_t);
    unsigned bits; /* per character */
    int fold_case; /* decoder accepts upper case too */
} codecs[] = {
    [ENC_BASE32] = {base32_decode, base32_encode, base32_encoded_len, 5, 1},
    [ENC_BASE64URL] = {base64url_decode, base64url_encode, base64url_encoded_len, 6, 0},
    [ENC_HEX] = {hex_decode, hex_encode, hex_encoded_len, 4, 1},
};

static int same_text(const char *a, const char *b, size_t n, int fold_case)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (fold_case && x < 0x80 && y < 0x80) {
            x = (unsigned char)tolower(x);
            y = (unsigned char)tolower(y);
        }
        if (x != y)
            return 0;
    }
    return 1;
}

/* The decoded size the codec needs for `len` characters. */
static size_t needed(const struct codec *c, size_t len)
{
    return len * c->bits / 8;
}

static void fuzz_decode(const struct codec *c, uint8_t size_sel, const char *text, size_t len)
{
    /* size_sel < 0x80: that many bytes; else needed, or one less / more. */
    size_t need = needed(c, len);
    size_t out_size = size_sel < 0x80 ? size_sel : need + (size_sel % 3) - (need > 0 ? 1 : 0);
    uint8_t *out = malloc(out_size > 0 ? out_size : 1);
    size_t out_len = (size_t)-1;
    FUZZ_REQUIRE(out != NULL);
    sp_status st = c->decode(out, out_size, &out_len, text, len);
    if (st != SP_OK) {
        FUZZ_REQUIRE(st == SP_ERR_MALFORMED || st == SP_ERR_TOO_LARGE);
        free(out);
        return;
    }
    FUZZ_REQUIRE(out_len <= out_size && out_len == need);
    size_t enc_len = c->encoded_len(out_len);
    FUZZ_REQUIRE(enc_len == len);
    char *back = malloc(enc_len + 1);
    FUZZ_REQUIRE(back != NULL);
    FUZZ_REQUIRE(c->encode(back, enc_len + 1, out, out_len) == SP_OK);
    FUZZ_REQUIRE(back[enc_len] == '\0');
    FUZZ_REQUIRE(same_text(back, text, len, c->fold_case));
    free(back);
    free(out);
}

static void fuzz_encode(const struct codec *c, const uint8_t *in, size_t len)
{
    size_t enc_len = c->encoded_len(len);
    char *text = malloc(enc_len + 1);
    uint8_t *back = malloc(len > 0 ? len : 1);
    size_t back_len = 0;
    FUZZ_REQUIRE(text != NULL && back != NULL);
    FUZZ_REQUIRE(c->encode(text, enc_len, in, len) == SP_ERR_TOO_LARGE);
    FUZZ_REQUIRE(c->encode(text, enc_len + 1, in, len) == SP_OK);
    FUZZ_REQUIRE(strlen(text) == enc_len);
    FUZZ_REQUIRE(c->decode(back, len, &back_len, text, enc_len) == SP_OK);
    FUZZ_REQUIRE(back_len == len && (len == 0 || memcmp(back, in, len) == 0));
    free(text);
    free(back);
}

static void fuzz_address(const char *text, size_t len)
{
    uint8_t addr[SP_ADDRESS_LEN];
    char back[SP_ADDRESS_TEXT_LEN + 1];
    if (sp_address_from_text(addr, text, len) != SP_OK)
        return;
    FUZZ_REQUIRE(len == SP_ADDRESS_TEXT_LEN);
    sp_address_to_text(back, addr);
    FUZZ_REQUIRE(back[SP_ADDRESS_TEXT_LEN] == '\0');
    FUZZ_REQUIRE(same_text(back, text, len, 1));
    for (size_t i = 0; i < SP_ADDRESS_TEXT_LEN; i++)
        FUZZ_REQUIRE(!isupper((unsigned char)back[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0] % ENC_TARGETS;
    const char *text = (const char *)(data + 2);
    size_t len = size - 2;
    if (sel == ENC_ADDRESS) {
        fuzz_address(text, len);
        return 0;
    }
    fuzz_decode(&codecs[sel], data[1], text, len);
    fuzz_encode(&codecs[sel], data + 2, len);
    return 0;
}

/* ---- seeds: valid encodings of a few byte strings, plus edge lengths */

static void seed_codec(struct fuzz_seeds *s, unsigned sel, const uint8_t *raw, size_t n)
{
    char text[256 + 4];
    text[0] = (char)sel;
    text[1] = (char)0x80; /* exact-size output */
    FUZZ_REQUIRE(codecs[sel].encode(text + 2, sizeof text - 2, raw, n) == SP_OK);
    fuzz_seed_add(s, text, 2 + strlen(text + 2));
}

static void encoding_seeds(struct fuzz_seeds *s)
{
    uint8_t raw[96];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 37 + 11);
    for (unsigned sel = 0; sel < ENC_ADDRESS; sel++) {
        seed_codec(s, sel, raw, 0);
        seed_codec(s, sel, raw, 1);
        seed_codec(s, sel, raw, 2);
        seed_codec(s, sel, raw, 3);
        seed_codec(s, sel, raw, 4);
        seed_codec(s, sel, raw, 5);
        seed_codec(s, sel, raw, SP_ADDRESS_LEN);
        seed_codec(s, sel, raw, SP_TOKEN_LEN);
        seed_codec(s, sel, raw, sizeof raw);
    }
    {
        uint8_t addr[SP_ADDRESS_LEN];
        char text[2 + SP_ADDRESS_TEXT_LEN + 1] = {ENC_ADDRESS, 0};
        memcpy(addr, raw, sizeof addr);
        sp_address_to_text(text + 2, addr);
        fuzz_seed_add(s, text, 2 + SP_ADDRESS_TEXT_LEN);
        for (size_t i = 2; i < 2 + SP_ADDRESS_TEXT_LEN; i += 3)
            text[i] = (char)toupper((unsigned char)text[i]);
        fuzz_seed_add(s, text, 2 + SP_ADDRESS_TEXT_LEN);
    }
}

static const uint8_t encoding_interesting[] = {'a', 'z', 'A', 'Z', '2', '7', '8', '0', '9', 'f',
                                               'g', 'F', 'G', '-', '_', '+', '/', '=', ' ', 0};

const struct fuzz_target fuzz_target = {
    .name = "encoding",
    .seeds = encoding_seeds,
    .iterations = 1000000,
    .selectors = ENC_TARGETS,
    .interesting = encoding_interesting,
    .n_interesting = sizeof encoding_interesting,
    .max_len = 512,
};
