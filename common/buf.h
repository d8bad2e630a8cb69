/*
 * buf.h: a growable byte buffer with a mandatory size cap, and a bounded
 * reader for untrusted bytes.
 *
 * struct buf owns its storage; growth past `cap` fails with SP_ERR_TOO_LARGE
 * and leaves the contents unchanged. buf_free() is NULL-safe and idempotent;
 * buf_free_secret() wipes before freeing. Not thread-safe: one owner at a time.
 *
 * struct reader never owns its bytes; every read is bounds-checked and a
 * failed read leaves the position unchanged.
 */
#ifndef SEALPOST_COMMON_BUF_H
#define SEALPOST_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct buf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len */
};

/* Initialise an empty buffer that may grow to `cap` bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t cap);
/* Free storage; the buffer is empty again with the same cap. */
void buf_free(struct buf *b);
/* Wipe, then free. Use for anything that held secrets or plaintext. */
void buf_free_secret(struct buf *b);
/* Length back to 0, storage kept. */
void buf_reset(struct buf *b);

SP_WARN_UNUSED sp_status buf_reserve(struct buf *b, size_t extra);
SP_WARN_UNUSED sp_status buf_append(struct buf *b, const uint8_t *p, size_t len);
SP_WARN_UNUSED sp_status buf_append_str(struct buf *b, const char *s);
SP_WARN_UNUSED sp_status buf_append_u8(struct buf *b, uint8_t v);
SP_WARN_UNUSED sp_status buf_append_be32(struct buf *b, uint32_t v);
SP_WARN_UNUSED sp_status buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the storage to the caller (who frees it with free()); b becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *len);

struct reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

void reader_init(struct reader *r, const uint8_t *p, size_t len);
size_t reader_remaining(const struct reader *r);
SP_WARN_UNUSED sp_status reader_u8(struct reader *r, uint8_t *out);
SP_WARN_UNUSED sp_status reader_be32(struct reader *r, uint32_t *out);
SP_WARN_UNUSED sp_status reader_copy(struct reader *r, uint8_t *out, size_t n);
/* Borrow n bytes (valid as long as the underlying bytes are). */
SP_WARN_UNUSED sp_status reader_borrow(struct reader *r, const uint8_t **out, size_t n);

#endif
