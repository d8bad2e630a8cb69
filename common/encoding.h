/*
 * encoding.h: text encodings used on the wire and for humans.
 *
 *  base32:    RFC 4648 alphabet in lower case, no padding (addresses). Decoding
 *             accepts upper case too, rejects padding, whitespace and
 *             non-canonical trailing bits.
 *  base64url: RFC 4648 §5, no padding (bearer tokens). Decoding is strict in
 *             the same way.
 *  hex:       lower case.
 *
 * Encoders write a NUL-terminated string into `out` of size `out_size` and
 * fail with SP_ERR_TOO_LARGE if it does not fit. Decoders write at most
 * `out_size` bytes and report the length through `*out_len`.
 */
#ifndef SEALPOST_COMMON_ENCODING_H
#define SEALPOST_COMMON_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Characters needed (without the NUL) to encode n bytes. */
size_t base32_encoded_len(size_t n);
size_t base64url_encoded_len(size_t n);

SP_WARN_UNUSED sp_status base32_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
SP_WARN_UNUSED sp_status base32_decode(uint8_t *out, size_t out_size, size_t *out_len,
                                       const char *in, size_t len);
SP_WARN_UNUSED sp_status base64url_encode(char *out, size_t out_size, const uint8_t *in,
                                          size_t len);
SP_WARN_UNUSED sp_status base64url_decode(uint8_t *out, size_t out_size, size_t *out_len,
                                          const char *in, size_t len);
SP_WARN_UNUSED sp_status hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
SP_WARN_UNUSED sp_status hex_decode(uint8_t *out, size_t out_size, size_t *out_len,
                                    const char *in, size_t len);

#endif
