/*
 * encoding.c: strict base32 / base64url / hex codecs (see encoding.h).
 *
 * Decoders are written for untrusted input: every character is checked, the
 * output length is bounded before anything is written, and encodings with
 * non-zero unused trailing bits are rejected so each value has exactly one
 * text form (an address or token cannot have two spellings).
 */
#include "encoding.h"

#include <string.h>

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex_alphabet[] = "0123456789abcdef";

size_t base32_encoded_len(size_t n)
{
    return (n * 8 + 4) / 5;
}

size_t base64url_encoded_len(size_t n)
{
    return (n * 8 + 5) / 6;
}

/* Generic bit-packing encoder for 5- and 6-bit alphabets. */
static sp_status encode_bits(char *out, size_t out_size, const uint8_t *in, size_t len,
                             const char *alphabet, unsigned bits)
{
    size_t need = (len * 8 + bits - 1) / bits;
    if (out_size < need + 1)
        return SP_ERR_TOO_LARGE;
    uint32_t acc = 0;
    unsigned have = 0;
    size_t o = 0;
    unsigned mask = (1u << bits) - 1;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        have += 8;
        while (have >= bits) {
            have -= bits;
            out[o++] = alphabet[(acc >> have) & mask];
        }
    }
    if (have > 0)
        out[o++] = alphabet[(acc << (bits - have)) & mask];
    out[o] = '\0';
    return SP_OK;
}

static int b32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static sp_status decode_bits(uint8_t *out, size_t out_size, size_t *out_len, const char *in,
                             size_t len, int (*value)(char), unsigned bits)
{
    size_t n = len * bits / 8;
    /* A length that leaves a whole unused symbol is not a valid encoding. */
    if ((len * bits) % 8 >= bits)
        return SP_ERR_MALFORMED;
    if (n > out_size)
        return SP_ERR_TOO_LARGE;
    uint32_t acc = 0;
    unsigned have = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value(in[i]);
        if (v < 0)
            return SP_ERR_MALFORMED;
        acc = (acc << bits) | (uint32_t)v;
        have += bits;
        if (have >= 8) {
            have -= 8;
            out[o++] = (uint8_t)(acc >> have);
        }
    }
    if (have > 0 && (acc & ((1u << have) - 1)) != 0)
        return SP_ERR_MALFORMED; /* non-canonical trailing bits */
    *out_len = o;
    return SP_OK;
}

sp_status base32_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    return encode_bits(out, out_size, in, len, b32_alphabet, 5);
}

sp_status base32_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *in,
                        size_t len)
{
    return decode_bits(out, out_size, out_len, in, len, b32_value, 5);
}

sp_status base64url_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    return encode_bits(out, out_size, in, len, b64_alphabet, 6);
}

sp_status base64url_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *in,
                           size_t len)
{
    return decode_bits(out, out_size, out_len, in, len, b64_value, 6);
}

sp_status hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    if (out_size < len * 2 + 1)
        return SP_ERR_TOO_LARGE;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex_alphabet[in[i] >> 4];
        out[2 * i + 1] = hex_alphabet[in[i] & 15];
    }
    out[len * 2] = '\0';
    return SP_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sp_status hex_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *in, size_t len)
{
    if (len % 2 != 0)
        return SP_ERR_MALFORMED;
    if (len / 2 > out_size)
        return SP_ERR_TOO_LARGE;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return SP_ERR_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return SP_OK;
}
