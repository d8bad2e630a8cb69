/*
 * buf.c: capped growable buffer and bounded reader (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"

void buf_init(struct buf *b, size_t cap)
{
    *b = (struct buf){.cap = cap};
}

void buf_free(struct buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void buf_free_secret(struct buf *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL)
        sp_wipe(b->data, b->alloc);
    buf_free(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
}

sp_status buf_reserve(struct buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return SP_ERR_TOO_LARGE;
    size_t need = b->len + extra;
    if (need <= b->alloc)
        return SP_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > b->cap)
        n = b->cap;
    uint8_t *p = realloc(b->data, n);
    if (p == NULL)
        return SP_ERR_NOMEM;
    b->data = p;
    b->alloc = n;
    return SP_OK;
}

sp_status buf_append(struct buf *b, const uint8_t *p, size_t len)
{
    sp_status st = buf_reserve(b, len);
    if (st != SP_OK)
        return st;
    if (len > 0)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    return SP_OK;
}

sp_status buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, (const uint8_t *)s, strlen(s));
}

sp_status buf_append_u8(struct buf *b, uint8_t v)
{
    return buf_append(b, &v, 1);
}

sp_status buf_append_be32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return buf_append(b, x, sizeof x);
}

sp_status buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SP_ERR_INTERNAL;
    /* +1 for vsnprintf's terminator, which is not counted in len. */
    sp_status st = buf_reserve(b, (size_t)n + 1);
    if (st != SP_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SP_OK;
}

uint8_t *buf_steal(struct buf *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

void reader_init(struct reader *r, const uint8_t *p, size_t len)
{
    *r = (struct reader){.p = p, .len = len};
}

size_t reader_remaining(const struct reader *r)
{
    return r->len - r->pos;
}

sp_status reader_borrow(struct reader *r, const uint8_t **out, size_t n)
{
    if (n > reader_remaining(r))
        return SP_ERR_MALFORMED;
    *out = r->p + r->pos;
    r->pos += n;
    return SP_OK;
}

sp_status reader_copy(struct reader *r, uint8_t *out, size_t n)
{
    const uint8_t *p = NULL;
    sp_status st = reader_borrow(r, &p, n);
    if (st == SP_OK && n > 0)
        memcpy(out, p, n);
    return st;
}

sp_status reader_u8(struct reader *r, uint8_t *out)
{
    return reader_copy(r, out, 1);
}

sp_status reader_be32(struct reader *r, uint32_t *out)
{
    uint8_t x[4];
    sp_status st = reader_copy(r, x, sizeof x);
    if (st == SP_OK)
        *out = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
    return st;
}
