/*
 * fuzz_common.c: helpers every harness links, with libFuzzer or with the
 * replay driver: the seed list and the failure report.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_harness.h"

void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz_%s: property failed at %s:%d: %s\n", fuzz_target.name, file, line, what);
    abort();
}

static void seed_put(struct fuzz_seeds *s, const uint8_t *sel, const void *data, size_t len)
{
    size_t extra = sel != NULL ? 1 : 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        struct fuzz_seed *items = realloc(s->items, cap * sizeof *items);
        if (items == NULL)
            fuzz_fail("out of memory", __FILE__, __LINE__);
        s->items = items;
        s->cap = cap;
    }
    /* +1: a zero-length seed still gets a distinct allocation */
    uint8_t *copy = malloc(len + extra + 1);
    if (copy == NULL)
        fuzz_fail("out of memory", __FILE__, __LINE__);
    if (sel != NULL)
        copy[0] = *sel;
    if (len > 0)
        memcpy(copy + extra, data, len);
    s->items[s->n].data = copy;
    s->items[s->n].len = len + extra;
    s->n++;
}

void fuzz_seed_add(struct fuzz_seeds *s, const void *data, size_t len)
{
    seed_put(s, NULL, data, len);
}

void fuzz_seed_add_sel(struct fuzz_seeds *s, uint8_t selector, const void *data, size_t len)
{
    seed_put(s, &selector, data, len);
}
