/*
 * fuzz_harness.h: what every libFuzzer harness in tests/fuzz/ provides to
 * the shared replay driver (fuzz_replay.c), and the helpers they share.
 *
 * A harness is one .c file defining LLVMFuzzerTestOneInput (libFuzzer's
 * entry point) and `fuzz_target`: its name, its valid seed inputs (built by
 * our own encoders, so mutations start from deep inside the parser) and how
 * the replay driver should mutate them. The same file links either against
 * libFuzzer (`fuzz_<name>`, clang + SEALPOST_FUZZ=ON) or against
 * fuzz_replay.c (`fuzz_<name>_replay`, every build, a ctest with label fuzz).
 */
#ifndef SEALPOST_TESTS_FUZZ_HARNESS_H
#define SEALPOST_TESTS_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Seeds handed from a harness to the driver; the driver owns the copies. */
struct fuzz_seeds {
    size_t n, cap;
    struct fuzz_seed {
        uint8_t *data;
        size_t len;
    } * items;
};

/* Copy (data, len) in as one seed. Exits on OOM. */
void fuzz_seed_add(struct fuzz_seeds *s, const void *data, size_t len);
/* Same with a leading selector byte (harnesses that dispatch on data[0]). */
void fuzz_seed_add_sel(struct fuzz_seeds *s, uint8_t selector, const void *data, size_t len);

struct fuzz_target {
    const char *name;
    /* Append the seeds to s (called once per process). */
    void (*seeds)(struct fuzz_seeds *s);
    /* Mutated inputs per ctest run: sized so the run stays ~<= 20 s under
     * ASan on 2 cores. */
    unsigned iterations;
    /* > 0: data[0] picks a sub-target modulo `selectors`; the mutator then
     * keeps byte 0 except when it deliberately retargets an input. */
    unsigned selectors;
    /* Bytes worth planting (format tokens); may be NULL. */
    const uint8_t *interesting;
    size_t n_interesting;
    /* Upper bound on mutated input size. */
    size_t max_len;
};

extern const struct fuzz_target fuzz_target;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed property is a crash: libFuzzer and ctest both report aborts. */
#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(#cond, __FILE__, __LINE__);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *what, const char *file, int line);

#endif
