/*
 * fuzz_replay.c: the deterministic driver for every harness in tests/fuzz/
 * (linked with one harness into fuzz_<name>_replay; see fuzz_harness.h).
 *
 * Runs LLVMFuzzerTestOneInput over (1) every file named on the command line
 * (a libFuzzer corpus or crash file), else (2) the harness's seeds plus
 * `iterations` seeded xorshift mutations of them (bit flips, byte overwrites
 * with format-significant values, truncation, insertion, duplication,
 * splicing, retargeting) and short pure-noise inputs. Same seed, same
 * mutation sequence: a failure in CI reproduces locally. Linked without
 * libFuzzer, so it runs under gcc + ASan/UBSan as a ctest (label fuzz).
 *
 *   fuzz_<name>_replay                  seeded mutation run (ctest)
 *   fuzz_<name>_replay FILE...          replay corpus or crash files
 *   fuzz_<name>_replay --write-seeds D  write the seeds into directory D
 *                                       (a starting corpus for libFuzzer)
 *
 * FUZZ_ITERATIONS in the environment overrides the iteration count.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_harness.h"

#define MAX_FILE (1u << 20)

static uint64_t rng_state = 0x5ea1905700000001ull;

static uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t below(size_t n)
{
    return n == 0 ? 0 : (size_t)(xorshift() % n);
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_%s_replay: %s\n", fuzz_target.name, what);
    exit(2);
}

static const uint8_t default_interesting[] = {0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x10, 0x12,
                                              0x1a, 0x20, 0x22, 0x2f, 0x30, 0x3d, 0x40, 0x41,
                                              0x5b, 0x5d, 0x61, 0x7f, 0x80, 0xff, 0x0d, 0x2d};

static uint8_t interesting_byte(void)
{
    const struct fuzz_target *t = &fuzz_target;
    if (t->n_interesting > 0 && below(4) != 0)
        return t->interesting[below(t->n_interesting)];
    return default_interesting[below(sizeof default_interesting)];
}

/* Mutate buf[0..len) in place (capacity cap); bytes below `lo` are the
 * selector and only change through the retarget step. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap, const struct fuzz_seeds *seeds)
{
    const struct fuzz_target *t = &fuzz_target;
    size_t lo = t->selectors > 0 ? 1 : 0;
    size_t rounds = 1 + below(4);
    for (size_t r = 0; r < rounds; r++) {
        switch (below(t->selectors > 0 ? 9 : 8)) {
        case 0: /* flip a bit */
            if (len > lo)
                buf[lo + below(len - lo)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* overwrite with an interesting byte */
            if (len > lo)
                buf[lo + below(len - lo)] = interesting_byte();
            break;
        case 2: /* random byte */
            if (len > lo)
                buf[lo + below(len - lo)] = (uint8_t)xorshift();
            break;
        case 3: /* truncate */
            if (len > lo)
                len = lo + below(len - lo + 1);
            break;
        case 4: /* insert a byte */
            if (len < cap && len >= lo) {
                size_t at = lo + below(len - lo + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = interesting_byte();
                len++;
            }
            break;
        case 5: /* duplicate a chunk (repeated fields, merges) */
            if (len > lo) {
                size_t from = lo + below(len - lo);
                size_t n = 1 + below(len - from);
                if (len + n <= cap) {
                    memcpy(buf + len, buf + from, n);
                    len += n;
                }
            }
            break;
        case 6: { /* splice the tail of another seed */
            const struct fuzz_seed *o = &seeds->items[below(seeds->n)];
            if (o->len > lo && len >= lo) {
                size_t at = lo + below(len - lo + 1);
                size_t from = lo + below(o->len - lo);
                size_t n = o->len - from;
                if (at + n <= cap) {
                    memcpy(buf + at, o->data + from, n);
                    len = at + n;
                }
            }
            break;
        }
        case 7: /* delete a byte */
            if (len > lo) {
                size_t at = lo + below(len - lo);
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
            break;
        default: /* retarget: feed one sub-target's input to another */
            if (len > 0)
                buf[0] = (uint8_t)below(t->selectors);
            break;
        }
    }
    return len;
}

/* An exact-size copy, so ASan catches any read past the input. */
static void run_one(const uint8_t *data, size_t len)
{
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL)
        die("out of memory");
    if (len > 0)
        memcpy(exact, data, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
}

static void seeds_free(struct fuzz_seeds *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i].data);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static int run_files(int argc, char **argv)
{
    uint8_t *data = malloc(MAX_FILE);
    if (data == NULL)
        die("out of memory");
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL)
            die("cannot read input file");
        size_t len = fread(data, 1, MAX_FILE, f);
        fclose(f);
        run_one(data, len);
    }
    free(data);
    printf("fuzz_%s_replay: %d file(s) ok\n", fuzz_target.name, argc - 1);
    return 0;
}

static int write_seeds(const char *dir)
{
    struct fuzz_seeds s = {0};
    fuzz_target.seeds(&s);
    for (size_t i = 0; i < s.n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/seed-%03zu", dir, i);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(s.items[i].data, 1, s.items[i].len, f) != s.items[i].len)
            die("cannot write seed file");
        fclose(f);
    }
    printf("fuzz_%s_replay: wrote %zu seeds to %s\n", fuzz_target.name, s.n, dir);
    seeds_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const struct fuzz_target *t = &fuzz_target;
    struct fuzz_seeds s = {0};
    unsigned iterations = t->iterations;
    const char *env = getenv("FUZZ_ITERATIONS");

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    if (argc > 1)
        return run_files(argc, argv);
    if (env != NULL && *env != '\0')
        iterations = (unsigned)strtoul(env, NULL, 10);

    t->seeds(&s);
    if (s.n == 0)
        die("harness has no seeds");
    size_t cap = t->max_len;
    for (size_t i = 0; i < s.n; i++)
        if (s.items[i].len > cap)
            cap = s.items[i].len;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        die("out of memory");

    for (size_t i = 0; i < s.n; i++)
        run_one(s.items[i].data, s.items[i].len);
    for (unsigned it = 0; it < iterations; it++) {
        size_t len;
        if (it % 10 == 9) { /* pure noise, short, selector kept in range */
            len = below(65);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)xorshift();
        } else {
            const struct fuzz_seed *seed = &s.items[below(s.n)];
            memcpy(buf, seed->data, seed->len);
            len = mutate(buf, seed->len, cap, &s);
        }
        run_one(buf, len);
    }
    printf("fuzz_%s_replay: %zu seeds, %u mutated inputs ok\n", t->name, s.n, iterations);
    free(buf);
    seeds_free(&s);
    return 0;
}
