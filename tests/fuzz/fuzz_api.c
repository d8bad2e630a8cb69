/*
 * fuzz_api.c: libFuzzer harness for the relay's whole request path below
 * HTTP: api_handle() (server/api) with fuzzed method, path, query numbers,
 * Authorization and Content-Type headers and body, against a real SQLite
 * store with every migration in a temp dir, the real writer thread (group
 * commit) and two registered accounts with known bearer tokens.
 *
 * This reaches every parser of request data the relay has: the route table
 * and the /v1/bundle/{address} parameter (sp_address_from_text), the bearer
 * parser (auth_bearer_hash) and token lookup, the strict query-number parser
 * of GET /v1/messages, the Content-Type check, and every body decoder in
 * common/wire plus the handlers' validation, store calls and responses.
 *
 * Input: byte 0 holds flags, then up to six '\n'-terminated fields, then the
 * body (the rest, binary):
 *   flags bits 0-2  method (api_method, modulo 6)
 *         bits 3-4  Authorization: none | token A | token B | field 5
 *         bits 5-6  Content-Type: x-protobuf | none | field 6 | with params
 *         bit 7     body_too_large (the HTTP layer stopped reading)
 *   fields  path, limit, after, wait, authorization, content type
 *           (an empty field is an absent header or query argument)
 * Long-polls cannot park: max_wait_s is 0, so any wait is clamped to 0 and
 * every input is answered without sleeping.
 *
 * The same strings also go straight to auth_bearer_hash and router_find,
 * checked against their contracts (auth.h, router.h).
 *
 * Properties: no crash, leak or UB; every call completes (one wake per
 * pending round trip, within 10 s); the answer is a valid HTTP status with
 * a content type; every protobuf error body decodes as Error whose code maps
 * to exactly that HTTP status (api_http_status), 405 carries Allow and 429
 * Retry-After; successful reads decode with the matching wire decoder.
 *
 * State persists across inputs within a process (that is the point: mail
 * sent by one input is fetched and acked by the next), so a crash found by
 * libFuzzer may need the inputs before it; the replay driver is one fixed
 * sequence and always reproduces.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client/signal_ctx.h"
#include "common/address.h"
#include "common/crypto.h"
#include "common/encoding.h"
#include "common/wire.h"
#include "fuzz_harness.h"
#include "server/api/api.h"
#include "server/api/auth.h"
#include "server/api/router.h"
#include "server/config.h"
#include "server/store/store.h"

#define FUZZ_T0  ((uint64_t)1700001234) /* fixed "now": proofs and tokens stay valid */
#define N_FIELDS 6

struct ident {
    uint8_t priv[32];
    uint8_t pub[SP_PUBKEY_LEN];
    uint8_t address[SP_ADDRESS_LEN];
    char text[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t token[SP_TOKEN_LEN];
    char bearer[8 + SP_TOKEN_TEXT_LEN + 1];
};

static struct fixture {
    int ready;
    char dir[4096], db[4200];
    struct config cfg;
    struct store *store;
    struct api *api;
    struct sp_clock clock;
    struct signal_ctx *sig;
    struct ident a, b, c; /* a, b registered with tokens; c only in seeds */
} fx;

static uint64_t fixed_now(void *ctx)
{
    (void)ctx;
    return FUZZ_T0;
}

/* A key pair from a constant: private scalar, X25519 public via OpenSSL. */
static void ident_make(struct ident *id, uint8_t k)
{
    EVP_PKEY *p = NULL;
    size_t n = 32;
    memset(id, 0, sizeof *id);
    for (size_t i = 0; i < 32; i++)
        id->priv[i] = (uint8_t)(k * 31 + i * 7 + 1);
    /* Clamped as libsignal generates them: its XEdDSA signs with the scalar
     * as given, while X25519 clamps, so only a clamped key verifies. */
    id->priv[0] &= 248;
    id->priv[31] = (uint8_t)((id->priv[31] & 127) | 64);
    p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, id->priv, 32);
    FUZZ_REQUIRE(p != NULL);
    id->pub[0] = SP_PUBKEY_TYPE;
    FUZZ_REQUIRE(EVP_PKEY_get_raw_public_key(p, id->pub + 1, &n) == 1 && n == 32);
    EVP_PKEY_free(p);
    FUZZ_REQUIRE(sp_address_derive(id->address, id->pub) == SP_OK);
    sp_address_to_text(id->text, id->address);
    memset(id->token, k, SP_TOKEN_LEN);
    memcpy(id->bearer, "Bearer ", 7);
    FUZZ_REQUIRE(base64url_encode(id->bearer + 7, sizeof id->bearer - 7, id->token, SP_TOKEN_LEN) ==
                 SP_OK);
}

static void signed_prekey(const struct ident *id, uint32_t spk_id, struct wire_signed_prekey *spk)
{
    spk->id = spk_id;
    spk->public_key[0] = SP_PUBKEY_TYPE;
    memset(spk->public_key + 1, (int)(spk_id + 0x30), 32);
    FUZZ_REQUIRE(
        signal_ctx_sign(fx.sig, spk->signature, id->priv, spk->public_key, SP_PUBKEY_LEN) == SP_OK);
}

static void register_struct(const struct ident *id, size_t n, struct wire_register *reg)
{
    memset(reg, 0, sizeof *reg);
    memcpy(reg->identity_key, id->pub, SP_PUBKEY_LEN);
    reg->registration_id = 4242;
    reg->device_id = SP_DEVICE_ID;
    signed_prekey(id, 1, &reg->signed_prekey);
    reg->n_prekeys = n;
    for (size_t i = 0; i < n; i++) {
        reg->prekeys[i].id = (uint32_t)(i + 1);
        reg->prekeys[i].public_key[0] = SP_PUBKEY_TYPE;
        memset(reg->prekeys[i].public_key + 1, (int)(i + 0x60), 32);
    }
    reg->timestamp = FUZZ_T0;
    memset(reg->nonce, id->token[0], SP_NONCE_LEN);
}

/* Register id straight in the store with a token valid for ten days. */
static void register_direct(struct ident *id)
{
    static struct wire_register reg;
    struct store_conn *c = NULL;
    uint8_t hash[32];
    bool created = false;
    int64_t account = 0;
    register_struct(id, 20, &reg);
    FUZZ_REQUIRE(store_conn_get(fx.store, &c) == SP_OK);
    FUZZ_REQUIRE(store_begin(c) == SP_OK);
    FUZZ_REQUIRE(store_account_register(c, &reg, id->address, FUZZ_T0, 1000, &created, &account) ==
                 SP_OK);
    FUZZ_REQUIRE(sp_sha256(hash, id->token, SP_TOKEN_LEN, NULL, 0) == SP_OK);
    FUZZ_REQUIRE(store_token_put(c, hash, account, FUZZ_T0 + 10 * 86400) == SP_OK);
    FUZZ_REQUIRE(store_commit(c) == SP_OK);
    store_conn_put(fx.store, c);
}

static void fixture_destroy(void)
{
    char p[4300];
    if (!fx.ready)
        return;
    api_shutdown(fx.api);
    api_destroy(fx.api);
    store_close(fx.store);
    signal_ctx_free(fx.sig);
    config_free(&fx.cfg);
    unlink(fx.db);
    snprintf(p, sizeof p, "%s-wal", fx.db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", fx.db);
    unlink(p);
    rmdir(fx.dir);
    fx.ready = 0;
}

static void fixture_init(void)
{
    if (fx.ready)
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(fx.dir, sizeof fx.dir, "%s/sealpost-fuzz-api-XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(fx.dir) != NULL);
    snprintf(fx.db, sizeof fx.db, "%s/relay.db", fx.dir);

    config_defaults(&fx.cfg);
    fx.cfg.limits.max_wait_s = 0; /* never park a long-poll */
    fx.cfg.auth_rate_per_minute = 1000000;
    fx.cfg.limits.bundle_fetches_per_target = 100000;
    FUZZ_REQUIRE(sp_limits_validate(&fx.cfg.limits, NULL) == SP_OK);
    fx.clock.now = fixed_now;
    FUZZ_REQUIRE(signal_ctx_new(&fx.sig) == SP_OK);

    struct store_options so = {
        .path = fx.db, .sync = STORE_SYNC_NORMAL, .pool_size = 4, .busy_timeout_ms = 5000};
    FUZZ_REQUIRE(store_open(&fx.store, &so) == SP_OK);
    struct api_options ao = {.config = &fx.cfg, .store = fx.store, .clock = &fx.clock};
    FUZZ_REQUIRE(api_create(&fx.api, &ao) == SP_OK);

    ident_make(&fx.a, 0xa1);
    ident_make(&fx.b, 0xb2);
    ident_make(&fx.c, 0xc3);
    register_direct(&fx.a);
    register_direct(&fx.b);
    fx.ready = 1;
    atexit(fixture_destroy);
}

/* ---- one call, driven like the HTTP layer does */

struct fcall {
    struct api_call call; /* first: wake() casts back */
    pthread_mutex_t m;
    pthread_cond_t cv;
    int wakes, consumed;
};

static void fcall_wake(struct api_call *call)
{
    struct fcall *f = (struct fcall *)call;
    pthread_mutex_lock(&f->m);
    f->wakes++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->m);
}

static int fcall_wait(struct fcall *f)
{
    struct timespec ts;
    int ok;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&f->m);
    while (f->wakes == f->consumed)
        if (pthread_cond_timedwait(&f->cv, &f->m, &ts) != 0)
            break;
    ok = f->wakes > f->consumed;
    if (ok)
        f->consumed++;
    pthread_mutex_unlock(&f->m);
    return ok;
}

static void check_response(const struct api_request *rq, const struct api_response *r)
{
    const uint8_t *body = r->body.data;
    size_t len = r->body.len;
    FUZZ_REQUIRE(r->http_status >= 200 && r->http_status <= 599);
    FUZZ_REQUIRE(r->content_type != NULL || r->http_status == 204);
    if (r->http_status == 405)
        FUZZ_REQUIRE(r->allow != NULL && r->allow[0] != '\0');
    if (r->http_status == 429)
        FUZZ_REQUIRE(r->retry_after_s > 0);
    if (r->http_status >= 400 && r->content_type != NULL &&
        strcmp(r->content_type, "application/x-protobuf") == 0) {
        struct wire_error e;
        FUZZ_REQUIRE(wire_decode_error(&e, body, len) == SP_OK);
        FUZZ_REQUIRE(e.code != SP_OK && api_http_status(e.code) == r->http_status);
        return;
    }
    if (r->http_status != 200 || rq->method != API_GET)
        return;
    if (strcmp(rq->path, "/v1/messages") == 0) {
        struct wire_fetch f;
        FUZZ_REQUIRE(wire_decode_fetch(&f, NULL, body, len) == SP_OK);
        FUZZ_REQUIRE(f.n <= fx.cfg.limits.fetch_max_envelopes);
        wire_fetch_free(&f);
    } else if (strcmp(rq->path, "/v1/prekeys/count") == 0) {
        uint32_t n;
        FUZZ_REQUIRE(wire_decode_prekey_count(&n, body, len) == SP_OK);
    } else if (strncmp(rq->path, "/v1/bundle/", 11) == 0) {
        struct wire_bundle b;
        FUZZ_REQUIRE(wire_decode_bundle(&b, NULL, body, len) == SP_OK);
    }
}

/* The bearer and route parsers on their own, with their exact contracts
 * (auth.h, router.h), on the same fuzzed strings api_handle() gets. */
static void check_parsers(enum api_method m, const char *path, const char *authz)
{
    uint8_t hash[32], token[SP_TOKEN_LEN], want[32];
    size_t n = 0;
    if (authz != NULL && auth_bearer_hash(hash, authz) == SP_OK) {
        FUZZ_REQUIRE(strlen(authz) == 7 + SP_TOKEN_TEXT_LEN &&
                     strncasecmp(authz, "bearer ", 7) == 0);
        FUZZ_REQUIRE(base64url_decode(token, sizeof token, &n, authz + 7, SP_TOKEN_TEXT_LEN) ==
                         SP_OK &&
                     n == SP_TOKEN_LEN);
        FUZZ_REQUIRE(sp_sha256(want, token, n, NULL, 0) == SP_OK && memcmp(want, hash, 32) == 0);
    }
    const struct route *r = NULL;
    const char *param = NULL;
    char allow[48];
    switch (router_find(m, path, &r, &param, allow, sizeof allow)) {
    case ROUTER_FOUND:
        FUZZ_REQUIRE(r != NULL && r->method == m);
        FUZZ_REQUIRE((param != NULL) == (strchr(r->pattern, '{') != NULL));
        if (param != NULL)
            FUZZ_REQUIRE(*param != '\0' && strchr(param, '/') == NULL && param > path &&
                         param < path + strlen(path));
        break;
    case ROUTER_BAD_METHOD:
        FUZZ_REQUIRE(allow[0] != '\0' && strlen(allow) < sizeof allow);
        break;
    case ROUTER_NOT_FOUND:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fcall f;
    char *fields[N_FIELDS] = {NULL};
    const uint8_t *p, *end;
    size_t i;

    fixture_init();
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    p = data + 1;
    end = data + size;
    for (i = 0; i < N_FIELDS && p < end; i++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        if (nl > p) {
            fields[i] = malloc((size_t)(nl - p) + 1);
            FUZZ_REQUIRE(fields[i] != NULL);
            memcpy(fields[i], p, (size_t)(nl - p));
            fields[i][nl - p] = '\0';
        }
        p = nl + 1;
    }
    /* The rest is the body: an exact-size copy so reads past it are caught. */
    size_t body_len = i == N_FIELDS ? (size_t)(end - p) : 0;
    uint8_t *body = malloc(body_len > 0 ? body_len : 1);
    FUZZ_REQUIRE(body != NULL);
    if (body_len > 0)
        memcpy(body, p, body_len);

    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.m, NULL);
    pthread_cond_init(&f.cv, NULL);
    struct api_request *rq = &f.call.req;
    rq->method = (enum api_method)((flags & 7) % 6);
    rq->path = fields[0] != NULL ? fields[0] : "/";
    rq->q_limit = fields[1];
    rq->q_after = fields[2];
    rq->q_wait = fields[3];
    switch ((flags >> 3) & 3) {
    case 0:
        rq->authorization = NULL;
        break;
    case 1:
        rq->authorization = fx.a.bearer;
        break;
    case 2:
        rq->authorization = fx.b.bearer;
        break;
    default:
        rq->authorization = fields[4];
        break;
    }
    switch ((flags >> 5) & 3) {
    case 0:
        rq->content_type = "application/x-protobuf";
        break;
    case 1:
        rq->content_type = NULL;
        break;
    case 2:
        rq->content_type = fields[5];
        break;
    default:
        rq->content_type = "Application/X-Protobuf; charset=binary";
        break;
    }
    rq->body = body;
    rq->body_len = body_len;
    rq->body_too_large = (flags & 0x80) != 0;
    rq->client_key = 42;
    f.call.wake = fcall_wake;
    api_call_init(&f.call);
    check_parsers(rq->method, rq->path, fields[4]);

    enum api_result r = api_handle(fx.api, &f.call);
    while (r == API_PENDING) {
        FUZZ_REQUIRE(fcall_wait(&f)); /* a pending call is always woken */
        r = api_handle(fx.api, &f.call);
    }
    check_response(rq, &f.call.resp);
    api_call_release(fx.api, &f.call);
    FUZZ_REQUIRE(f.wakes == f.consumed); /* exactly one wake per round trip */
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.m);
    free(body);
    for (i = 0; i < N_FIELDS; i++)
        free(fields[i]);
    return 0;
}

/* ---- seeds: one valid request per endpoint, from our own encoders */

enum { AUTH_NONE = 0, AUTH_A = 1 << 3, AUTH_B = 2 << 3, AUTH_FIELD = 3 << 3 };
enum { CT_PROTOBUF = 0, CT_NONE = 1 << 5, CT_FIELD = 2 << 5 };

static void req_seed(struct fuzz_seeds *s, unsigned flags, const char *path, const char *limit,
                     const char *after, const char *wait, const char *authz, const char *ctype,
                     const struct buf *body)
{
    const char *f[N_FIELDS] = {path, limit, after, wait, authz, ctype};
    struct buf b;
    buf_init(&b, 1u << 20);
    FUZZ_REQUIRE(buf_append_u8(&b, (uint8_t)flags) == SP_OK);
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (f[i] != NULL)
            FUZZ_REQUIRE(buf_append(&b, (const uint8_t *)f[i], strlen(f[i])) == SP_OK);
        FUZZ_REQUIRE(buf_append_u8(&b, '\n') == SP_OK);
    }
    if (body != NULL)
        FUZZ_REQUIRE(buf_append(&b, body->data, body->len) == SP_OK);
    fuzz_seed_add(s, b.data, b.len);
    buf_free(&b);
}

static void proof_body(struct buf *body, const struct ident *id, const char *domain,
                       const struct buf *payload)
{
    struct buf m;
    uint8_t sig[SP_SIGNATURE_LEN];
    buf_init(&m, 1u << 20);
    FUZZ_REQUIRE(sp_proof_message(&m, domain, payload->data, payload->len) == SP_OK);
    FUZZ_REQUIRE(signal_ctx_sign(fx.sig, sig, id->priv, m.data, m.len) == SP_OK);
    buf_reset(body);
    FUZZ_REQUIRE(wire_encode_signed_proof(body, payload->data, payload->len, sig) == SP_OK);
    buf_free(&m);
}

static void api_seeds(struct fuzz_seeds *s)
{
    static struct wire_register reg;
    static struct wire_prekey_upload up;
    struct buf body, payload;
    char path[64];

    fixture_init();
    buf_init(&body, 1u << 20);
    buf_init(&payload, 1u << 20);

    req_seed(s, API_GET | CT_NONE, "/v1/health", NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_GET | CT_NONE, "/v1/ready", NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_GET | CT_NONE, "/v1/limits", NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_GET | CT_NONE, "/metrics", NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_DELETE | CT_NONE, "/v1/messages", NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_GET | AUTH_A | CT_NONE, "/v1/prekeys/count", NULL, NULL, NULL, NULL, NULL,
             NULL);
    req_seed(s, API_GET | AUTH_FIELD | CT_NONE, "/v1/prekeys/count", NULL, NULL, NULL, fx.b.bearer,
             NULL, NULL);
    snprintf(path, sizeof path, "/v1/bundle/%s", fx.b.text);
    req_seed(s, API_GET | AUTH_A | CT_NONE, path, NULL, NULL, NULL, NULL, NULL, NULL);
    req_seed(s, API_GET | AUTH_B | CT_NONE, "/v1/messages", "10", "0", "0", NULL, NULL, NULL);
    req_seed(s, API_GET | AUTH_B | CT_NONE, "/v1/messages", "1", "18446744073709551615", "30", NULL,
             NULL, NULL);

    /* mail from a to b, then b acks it */
    {
        uint8_t content[SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET];
        struct wire_out_envelope env[2];
        uint8_t ids[2][SP_MESSAGE_ID_LEN];
        memset(content, 0x5c, sizeof content);
        content[0] = SP_SEAL_VERSION;
        for (size_t i = 0; i < 2; i++) {
            memset(&env[i], 0, sizeof env[i]);
            memcpy(env[i].recipient, (i == 0 ? &fx.b : &fx.a)->address, SP_ADDRESS_LEN);
            memset(env[i].message_id, (int)(0x70 + i), SP_MESSAGE_ID_LEN);
            memcpy(ids[i], env[i].message_id, SP_MESSAGE_ID_LEN);
            env[i].content = content;
            env[i].content_len = sizeof content;
        }
        buf_reset(&body);
        FUZZ_REQUIRE(wire_encode_send(&body, env, 2) == SP_OK);
        req_seed(s, API_POST | AUTH_A, "/v1/messages", NULL, NULL, NULL, NULL, NULL, &body);
        buf_reset(&body);
        FUZZ_REQUIRE(wire_encode_ack(&body, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 2) == SP_OK);
        req_seed(s, API_POST | AUTH_B, "/v1/messages/ack", NULL, NULL, NULL, NULL, NULL, &body);
    }

    /* prekeys, signed prekey (signed by a's identity key) */
    register_struct(&fx.a, 3, &reg);
    up.n = 3;
    for (size_t i = 0; i < 3; i++) {
        up.prekeys[i] = reg.prekeys[i];
        up.prekeys[i].id += 500;
    }
    buf_reset(&body);
    FUZZ_REQUIRE(wire_encode_prekey_upload(&body, &up) == SP_OK);
    req_seed(s, API_PUT | AUTH_A, "/v1/prekeys", NULL, NULL, NULL, NULL, NULL, &body);
    {
        struct wire_signed_prekey spk;
        signed_prekey(&fx.a, 7, &spk);
        buf_reset(&body);
        FUZZ_REQUIRE(wire_encode_signed_prekey(&body, &spk) == SP_OK);
        req_seed(s, API_PUT | AUTH_A | CT_FIELD, "/v1/signed-prekey", NULL, NULL, NULL, NULL,
                 "application/x-protobuf", &body);
    }

    /* register c, token for a: real proofs at the fixed clock */
    register_struct(&fx.c, 4, &reg);
    buf_reset(&payload);
    FUZZ_REQUIRE(wire_encode_register_payload(&payload, &reg) == SP_OK);
    proof_body(&body, &fx.c, SP_DOMAIN_REGISTER, &payload);
    req_seed(s, API_POST, "/v1/register", NULL, NULL, NULL, NULL, NULL, &body);
    {
        struct wire_token_request tr = {.timestamp = FUZZ_T0};
        memcpy(tr.address, fx.a.address, SP_ADDRESS_LEN);
        memset(tr.nonce, 0x3e, SP_NONCE_LEN);
        buf_reset(&payload);
        FUZZ_REQUIRE(wire_encode_token_payload(&payload, &tr) == SP_OK);
        proof_body(&body, &fx.a, SP_DOMAIN_TOKEN, &payload);
        req_seed(s, API_POST, "/v1/token", NULL, NULL, NULL, NULL, NULL, &body);
    }
    buf_free(&body);
    buf_free(&payload);
}

static const uint8_t api_interesting[] = {'/',  '\n', '?',  '&',  '=',  '%',  '.',  '{',
                                          '}',  ' ',  '0',  '9',  'v',  '1',  0x08, 0x0a,
                                          0x12, 0x1a, 0x22, 0x05, 0x01, 0x80, 0xff, 0x00};

const struct fuzz_target fuzz_target = {
    .name = "api",
    .seeds = api_seeds,
    .iterations = 200000,
    .selectors = 0,
    .interesting = api_interesting,
    .n_interesting = sizeof api_interesting,
    .max_len = 8192,
};
