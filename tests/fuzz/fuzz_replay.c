/*
 * fuzz_replay.c: deterministic driver for the fuzz_wire harness.
 *
 * Runs LLVMFuzzerTestOneInput over (1) every file named on the command line
 * (a libFuzzer corpus or crash file), else (2) valid encodings of every
 * message plus ITERATIONS seeded xorshift mutations of them (bit flips, byte
 * overwrites with protobuf-significant values, truncation, insertion,
 * duplication, splicing) and pure random inputs. Same seed, same inputs: a
 * failure in CI reproduces locally. Linked without libFuzzer, so it runs
 * under gcc + ASan/UBSan as a ctest (label fuzz).
 *
 *   fuzz_wire_replay                  seeded mutation run (ctest)
 *   fuzz_wire_replay FILE...          replay corpus or crash files
 *   fuzz_wire_replay --write-seeds D  write the valid seeds into directory D
 *                                     (a starting corpus for libFuzzer)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "fuzz_wire.h"

#define ITERATIONS 100000
#define MAX_INPUT (1u << 20)

struct seed {
    uint8_t *data;
    size_t len;
};

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
    fprintf(stderr, "fuzz_wire_replay: %s\n", what);
    exit(2);
}

/* Seed = selector byte || encoding produced by our own encoder. */
static void add_seed(struct seed *s, size_t *n, uint8_t target, const struct buf *b)
{
    s[*n].len = b->len + 1;
    s[*n].data = malloc(s[*n].len);
    if (s[*n].data == NULL)
        die("out of memory");
    s[*n].data[0] = target;
    if (b->len > 0)
        memcpy(s[*n].data + 1, b->data, b->len);
    (*n)++;
}

static void key(uint8_t k[static SP_PUBKEY_LEN], uint8_t v)
{
    k[0] = SP_PUBKEY_TYPE;
    memset(k + 1, v, SP_PUBKEY_LEN - 1);
}

static size_t build_seeds(struct seed *s)
{
    static uint8_t sealed_a[SP_SEAL_OVERHEAD + 256], sealed_b[SP_SEAL_OVERHEAD + 512];
    static struct wire_register reg;
    static struct wire_prekey_upload up;
    static const uint8_t sig[SP_SIGNATURE_LEN] = {1, 2, 3};
    struct buf b, pay;
    size_t n = 0;

    buf_init(&b, MAX_INPUT);
    buf_init(&pay, MAX_INPUT);
    memset(sealed_a, 0x11, sizeof sealed_a);
    memset(sealed_b, 0x22, sizeof sealed_b);
    sealed_a[0] = sealed_b[0] = SP_SEAL_VERSION;

#define SEED(target, expr)                                                                         \
    do {                                                                                           \
        buf_reset(&b);                                                                             \
        if ((expr) != SP_OK)                                                                       \
            die("seed encoding failed: " #target);                                                 \
        add_seed(s, &n, target, &b);                                                               \
    } while (0)

    {
        struct wire_error e = {.code = SP_ERR_TOO_MANY, .retry_after_s = 2, .has_index = true,
                               .index = 4, .has_remaining = true, .remaining = 1};
        strcpy(e.message, "too many items");
        SEED(FUZZ_ERROR, wire_encode_error(&b, &e));
    }
    key(reg.identity_key, 1);
    reg.registration_id = 4242;
    reg.device_id = SP_DEVICE_ID;
    reg.signed_prekey.id = 5;
    key(reg.signed_prekey.public_key, 2);
    memset(reg.signed_prekey.signature, 3, SP_SIGNATURE_LEN);
    reg.n_prekeys = 4;
    for (size_t i = 0; i < 4; i++) {
        reg.prekeys[i].id = (uint32_t)(100 + i);
        key(reg.prekeys[i].public_key, (uint8_t)(10 + i));
    }
    reg.timestamp = 1700000000;
    memset(reg.nonce, 4, SP_NONCE_LEN);
    buf_reset(&pay);
    if (wire_encode_register_payload(&pay, &reg) != SP_OK)
        die("register payload");
    SEED(FUZZ_REGISTER, wire_encode_signed_proof(&b, pay.data, pay.len, sig));
    {
        struct wire_token_request t = {.timestamp = 1700000001};
        memset(t.address, 5, SP_ADDRESS_LEN);
        memset(t.nonce, 6, SP_NONCE_LEN);
        buf_reset(&pay);
        if (wire_encode_token_payload(&pay, &t) != SP_OK)
            die("token payload");
        SEED(FUZZ_TOKEN_REQUEST, wire_encode_signed_proof(&b, pay.data, pay.len, sig));
    }
    {
        struct wire_register_response r = {.created = true};
        struct wire_token_response t = {.expires_at = 1700003600};
        struct wire_send_response sr = {.stored = 3, .duplicates = 1};
        struct sp_limits l;
        memset(r.address, 7, SP_ADDRESS_LEN);
        memset(t.token, 8, SP_TOKEN_LEN);
        sp_limits_defaults(&l);
        SEED(FUZZ_REGISTER_RESPONSE, wire_encode_register_response(&b, &r));
        SEED(FUZZ_TOKEN_RESPONSE, wire_encode_token_response(&b, &t));
        SEED(FUZZ_PREKEY_COUNT, wire_encode_prekey_count(&b, 17));
        SEED(FUZZ_SEND_RESPONSE, wire_encode_send_response(&b, &sr));
        SEED(FUZZ_ACK_RESPONSE, wire_encode_ack_response(&b, 2));
        SEED(FUZZ_LIMITS, wire_encode_limits(&b, &l));
    }
    up.n = reg.n_prekeys;
    memcpy(up.prekeys, reg.prekeys, sizeof up.prekeys);
    SEED(FUZZ_PREKEY_UPLOAD, wire_encode_prekey_upload(&b, &up));
    SEED(FUZZ_SIGNED_PREKEY, wire_encode_signed_prekey(&b, &reg.signed_prekey));
    {
        struct wire_bundle bu = {.registration_id = 4242, .device_id = SP_DEVICE_ID,
                                 .signed_prekey = reg.signed_prekey, .has_prekey = true,
                                 .prekey = reg.prekeys[0]};
        memcpy(bu.identity_key, reg.identity_key, SP_PUBKEY_LEN);
        SEED(FUZZ_BUNDLE, wire_encode_bundle(&b, &bu));
        bu.has_prekey = false;
        SEED(FUZZ_BUNDLE, wire_encode_bundle(&b, &bu));
    }
    {
        struct wire_out_envelope o[2] = {{.content = sealed_a, .content_len = sizeof sealed_a},
                                         {.content = sealed_b, .content_len = sizeof sealed_b}};
        struct wire_envelope e[2] = {
            {.content = sealed_a, .content_len = sizeof sealed_a, .received_hour = 3600},
            {.content = sealed_b, .content_len = sizeof sealed_b, .received_hour = 7200}};
        uint8_t ids[2][SP_MESSAGE_ID_LEN];
        memset(o[0].recipient, 9, SP_ADDRESS_LEN);
        memset(o[1].recipient, 10, SP_ADDRESS_LEN);
        memset(ids, 11, sizeof ids);
        ids[1][0] = 12;
        SEED(FUZZ_SEND, wire_encode_send(&b, o, 2));
        SEED(FUZZ_FETCH, wire_encode_fetch(&b, e, 2, 99, true));
        SEED(FUZZ_FETCH, wire_encode_fetch(&b, NULL, 0, 0, false));
        SEED(FUZZ_ACK, wire_encode_ack(&b, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 2));
        buf_reset(&b);
        if (buf_append(&b, sealed_a, sizeof sealed_a) != SP_OK)
            die("sealed seed");
        add_seed(s, &n, FUZZ_CHECK_SEALED, &b);
    }
    {
        uint8_t ct[64];
        memset(ct, 13, sizeof ct);
        struct wire_sealed_content c = {.sender_device = SP_DEVICE_ID, .type = 2,
                                        .ciphertext = ct, .ciphertext_len = sizeof ct};
        memset(c.sender, 14, SP_ADDRESS_LEN);
        SEED(FUZZ_SEALED_CONTENT, wire_encode_sealed_content(&b, &c));
    }
#undef SEED
    buf_free(&b);
    buf_free(&pay);
    return n;
}

/* Bytes that matter to protobuf: tags of fields 1..9 in each wire type,
 * varint continuation, lengths around our key sizes, the key type byte. */
static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x10, 0x12, 0x15,
                                      0x18, 0x1a, 0x20, 0x21, 0x22, 0x2a, 0x32, 0x3a, 0x42,
                                      0x4a, 0x7f, 0x80, 0xff, 0x0f, 0x10, 0x14, 0x40, 0x41};

static size_t mutate(uint8_t *buf, size_t len, size_t cap, const struct seed *seeds,
                     size_t n_seeds)
{
    size_t rounds = 1 + below(4);
    for (size_t r = 0; r < rounds; r++) {
        switch (below(8)) {
        case 0: /* flip a bit */
            if (len > 1)
                buf[1 + below(len - 1)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* overwrite with an interesting byte */
            if (len > 1)
                buf[1 + below(len - 1)] = interesting[below(sizeof interesting)];
            break;
        case 2: /* random byte */
            if (len > 1)
                buf[1 + below(len - 1)] = (uint8_t)xorshift();
            break;
        case 3: /* truncate */
            if (len > 1)
                len = 1 + below(len);
            break;
        case 4: /* insert a byte */
            if (len < cap && len > 1) {
                size_t at = 1 + below(len - 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = interesting[below(sizeof interesting)];
                len++;
            }
            break;
        case 5: /* duplicate a chunk (repeated fields, merges) */
            if (len > 2) {
                size_t from = 1 + below(len - 1);
                size_t n = 1 + below(len - from);
                if (len + n <= cap) {
                    memcpy(buf + len, buf + from, n);
                    len += n;
                }
            }
            break;
        case 6: { /* splice the tail of another seed */
            const struct seed *o = &seeds[below(n_seeds)];
            if (o->len > 1 && len > 1) {
                size_t at = 1 + below(len - 1);
                size_t from = 1 + below(o->len - 1);
                size_t n = o->len - from;
                if (at + n <= cap) {
                    memcpy(buf + at, o->data + from, n);
                    len = at + n;
                }
            }
            break;
        }
        default: /* change the target: feed one message to another decoder */
            buf[0] = (uint8_t)below(FUZZ_WIRE_TARGETS);
            break;
        }
    }
    return len;
}

static int run_files(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        uint8_t *data = malloc(MAX_INPUT);
        size_t len;
        if (f == NULL || data == NULL)
            die("cannot read input file");
        len = fread(data, 1, MAX_INPUT, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
    }
    printf("fuzz_wire_replay: %d file(s) ok\n", argc - 1);
    return 0;
}

static int write_seeds(const char *dir)
{
    struct seed seeds[64];
    size_t n_seeds = build_seeds(seeds);
    for (size_t i = 0; i < n_seeds; i++) {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof path, "%s/seed-%02zu", dir, i);
        f = fopen(path, "wb");
        if (f == NULL || fwrite(seeds[i].data, 1, seeds[i].len, f) != seeds[i].len)
            die("cannot write seed file");
        fclose(f);
        free(seeds[i].data);
    }
    printf("fuzz_wire_replay: wrote %zu seeds to %s\n", n_seeds, dir);
    return 0;
}

int main(int argc, char **argv)
{
    struct seed seeds[64];
    size_t n_seeds, cap = 8192;
    uint8_t *buf = NULL;

    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    buf = malloc(cap);
    if (argc > 1) {
        free(buf);
        return run_files(argc, argv);
    }
    if (buf == NULL)
        die("out of memory");
    n_seeds = build_seeds(seeds);
    for (size_t i = 0; i < n_seeds; i++)
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
    for (unsigned it = 0; it < ITERATIONS; it++) {
        size_t len;
        if (it % 10 == 9) { /* pure noise, short */
            len = 1 + below(64);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)xorshift();
        } else {
            const struct seed *s = &seeds[below(n_seeds)];
            if (s->len > cap)
                continue;
            memcpy(buf, s->data, s->len);
            len = mutate(buf, s->len, cap, seeds, n_seeds);
        }
        /* Exact-size copy so ASan catches any read past the input. */
        uint8_t *exact = malloc(len);
        if (exact == NULL)
            die("out of memory");
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    for (size_t i = 0; i < n_seeds; i++)
        free(seeds[i].data);
    free(buf);
    printf("fuzz_wire_replay: %zu seeds, %d mutated inputs ok\n", n_seeds, ITERATIONS);
    return 0;
}
