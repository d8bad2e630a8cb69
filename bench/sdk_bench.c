/*
 * sdk_bench.c: the client SDK against a real sealpostd over loopback TLS,
 * with a same-run baseline of raw libsignal in memory.
 *
 * Phases (one process, one thread, run one after the other):
 *   1. setup      Alice sends a first message to P peers she has no session
 *                 with: GET bundle over TLS, verify, X3DH, encrypt, seal,
 *                 outbox commit, POST (sealpost_send). Then each peer's
 *                 sealpost_sync of that prekey message (responder side).
 *   2. send       Alice -> Bob, N messages on an established session,
 *                 (a) sealpost_send: encrypt + seal + outbox commit + one
 *                 POST per message; (b) the local half only
 *                 (session_send_local: encrypt + seal + outbox commit) and
 *                 then one sealpost_sync that uploads them in batches.
 *   3. sync       Bob's sealpost_sync of all 2N: fetch pages + unseal +
 *                 decrypt + inbox commit per page + ack.
 *   4. baseline   libsignal 2.3.3 with in-memory stores (records still
 *                 serialised on every load/store, as the library requires),
 *                 same crypto provider: bundle processing + first encrypt
 *                 (setup), encrypt, decrypt of the same message size.
 * Prints conditions, figures and SDK/baseline ratios.
 *
 * The relay is started from this build on a free port with a throw-away
 * certificate in a temp dir (removed at the end), database sync=full.
 * The SDK state directories live in the same temp dir (synchronous=FULL).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <signal/key_helper.h>
#include <signal/protocol.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>
#include <signal/signal_protocol.h>

#include "client/keystore.h"
#include "client/seal.h"
#include "client/sdk_internal.h"
#include "client/session.h"
#include "client/signal_ctx.h"
#include "common/crypto.h"
#include "relay_proc.h"
#include "sealpost/sealpost.h"

#ifndef SEALPOSTD_PATH
#define SEALPOSTD_PATH "sealpostd"
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, "sdk_bench: " __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        int rc_ = (int)(expr);                                                                     \
        if (rc_ != 0)                                                                              \
            DIE("%s failed (%d) at line %d", #expr, rc_, __LINE__);                                \
    } while (0)

/* ------------------------------------------------------------------ agents */

struct agent {
    char dir[512];
    sealpost_client *c;
    char addr[SEALPOST_ADDRESS_LEN + 1];
};

static const char *g_url, *g_cert;

static void agent_new(struct agent *a, const char *base, const char *name)
{
    snprintf(a->dir, sizeof a->dir, "%s/%s", base, name);
    sealpost_options o = {.struct_size = sizeof o, .server_url = g_url, .ca_file = g_cert};
    CHECK_OK(sealpost_open(&a->c, a->dir, &o));
    /* registration is not what we measure: publish few one-time prekeys */
    CHECK_OK(keystore_setting_set_u64(sdk_keystore(a->c), SDK_SET_PREKEY_TARGET, 5));
    CHECK_OK(keystore_setting_set_u64(sdk_keystore(a->c), SDK_SET_PREKEY_LOW, 0));
    CHECK_OK(sealpost_init(a->c, NULL));
    CHECK_OK(sealpost_address(a->c, a->addr));
}

/* ---------------------------------------------------- in-memory libsignal */

#define MS_MAX 256

struct memstore {
    struct {
        char name[64];
        signal_buffer *rec;
    } sess[MS_MAX];
    size_t n_sess;
    uint32_t pk_id[MS_MAX];
    signal_buffer *pk[MS_MAX];
    size_t n_pk;
    uint32_t spk_id;
    signal_buffer *spk;
    signal_buffer *id_pub, *id_priv;
    uint32_t reg;
};

static int ms_find(struct memstore *m, const signal_protocol_address *a)
{
    for (size_t i = 0; i < m->n_sess; i++)
        if (strlen(m->sess[i].name) == a->name_len &&
            memcmp(m->sess[i].name, a->name, a->name_len) == 0)
            return (int)i;
    return -1;
}

static int ms_load_session(signal_buffer **rec, signal_buffer **urec,
                           const signal_protocol_address *a, void *ud)
{
    struct memstore *m = ud;
    int i = ms_find(m, a);
    *urec = NULL;
    if (i < 0)
        return 0;
    *rec = signal_buffer_copy(m->sess[i].rec);
    return 1;
}

static int ms_sub_devices(signal_int_list **out, const char *name, size_t len, void *ud)
{
    (void)name;
    (void)len;
    (void)ud;
    *out = signal_int_list_alloc();
    return 0;
}

static int ms_store_session(const signal_protocol_address *a, uint8_t *rec, size_t len,
                            uint8_t *urec, size_t ulen, void *ud)
{
    struct memstore *m = ud;
    (void)urec;
    (void)ulen;
    int i = ms_find(m, a);
    if (i < 0) {
        if (m->n_sess == MS_MAX || a->name_len >= 64)
            return SG_ERR_NOMEM;
        i = (int)m->n_sess++;
        memcpy(m->sess[i].name, a->name, a->name_len);
        m->sess[i].name[a->name_len] = 0;
    } else {
        signal_buffer_free(m->sess[i].rec);
    }
    m->sess[i].rec = signal_buffer_create(rec, len);
    return 0;
}

static int ms_contains_session(const signal_protocol_address *a, void *ud)
{
    return ms_find(ud, a) >= 0;
}

static int ms_delete_session(const signal_protocol_address *a, void *ud)
{
    (void)a;
    (void)ud;
    return 0;
}

static int ms_delete_all(const char *name, size_t len, void *ud)
{
    (void)name;
    (void)len;
    (void)ud;
    return 0;
}

static int ms_pk_index(struct memstore *m, uint32_t id)
{
    for (size_t i = 0; i < m->n_pk; i++)
        if (m->pk[i] != NULL && m->pk_id[i] == id)
            return (int)i;
    return -1;
}

static int ms_load_pk(signal_buffer **rec, uint32_t id, void *ud)
{
    int i = ms_pk_index(ud, id);
    if (i < 0)
        return SG_ERR_INVALID_KEY_ID;
    *rec = signal_buffer_copy(((struct memstore *)ud)->pk[i]);
    return SG_SUCCESS;
}

static int ms_store_pk(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    struct memstore *m = ud;
    if (m->n_pk == MS_MAX)
        return SG_ERR_NOMEM;
    m->pk_id[m->n_pk] = id;
    m->pk[m->n_pk++] = signal_buffer_create(rec, len);
    return 0;
}

static int ms_contains_pk(uint32_t id, void *ud)
{
    return ms_pk_index(ud, id) >= 0;
}

static int ms_remove_pk(uint32_t id, void *ud)
{
    struct memstore *m = ud;
    int i = ms_pk_index(m, id);
    if (i >= 0) {
        signal_buffer_free(m->pk[i]);
        m->pk[i] = NULL;
    }
    return 0;
}

static int ms_load_spk(signal_buffer **rec, uint32_t id, void *ud)
{
    struct memstore *m = ud;
    if (m->spk == NULL || m->spk_id != id)
        return SG_ERR_INVALID_KEY_ID;
    *rec = signal_buffer_copy(m->spk);
    return SG_SUCCESS;
}

static int ms_store_spk(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    struct memstore *m = ud;
    signal_buffer_free(m->spk);
    m->spk_id = id;
    m->spk = signal_buffer_create(rec, len);
    return 0;
}

static int ms_contains_spk(uint32_t id, void *ud)
{
    struct memstore *m = ud;
    return m->spk != NULL && m->spk_id == id;
}

static int ms_remove_spk(uint32_t id, void *ud)
{
    (void)id;
    (void)ud;
    return 0;
}

static int ms_get_identity(signal_buffer **pub, signal_buffer **priv, void *ud)
{
    struct memstore *m = ud;
    *pub = signal_buffer_copy(m->id_pub);
    *priv = signal_buffer_copy(m->id_priv);
    return 0;
}

static int ms_get_reg(void *ud, uint32_t *reg)
{
    *reg = ((struct memstore *)ud)->reg;
    return 0;
}

static int ms_save_identity(const signal_protocol_address *a, uint8_t *k, size_t len, void *ud)
{
    (void)a;
    (void)k;
    (void)len;
    (void)ud;
    return 0;
}

static int ms_trusted(const signal_protocol_address *a, uint8_t *k, size_t len, void *ud)
{
    (void)a;
    (void)k;
    (void)len;
    (void)ud;
    return 1;
}

struct party {
    struct signal_ctx *sig;
    signal_protocol_store_context *store;
    struct memstore *m;
    ratchet_identity_key_pair *ikp;
    session_pre_key_bundle *bundle; /* what it would publish */
    char name[40];
    signal_protocol_address addr;
};

static void party_new(struct party *p, const char *name, uint32_t prekey_id)
{
    memset(p, 0, sizeof *p);
    CHECK_OK(signal_ctx_new(&p->sig));
    signal_context *ctx = signal_ctx_get(p->sig);
    p->m = calloc(1, sizeof *p->m);
    if (p->m == NULL)
        DIE("oom");
    CHECK_OK(signal_protocol_store_context_create(&p->store, ctx));
    signal_protocol_session_store ss = {ms_load_session, ms_sub_devices, ms_store_session,
                                        ms_contains_session, ms_delete_session, ms_delete_all,
                                        NULL, p->m};
    signal_protocol_pre_key_store pks = {ms_load_pk, ms_store_pk, ms_contains_pk, ms_remove_pk,
                                         NULL, p->m};
    signal_protocol_signed_pre_key_store spks = {ms_load_spk, ms_store_spk, ms_contains_spk,
                                                 ms_remove_spk, NULL, p->m};
    signal_protocol_identity_key_store ids = {ms_get_identity, ms_get_reg, ms_save_identity,
                                              ms_trusted, NULL, p->m};
    CHECK_OK(signal_protocol_store_context_set_session_store(p->store, &ss));
    CHECK_OK(signal_protocol_store_context_set_pre_key_store(p->store, &pks));
    CHECK_OK(signal_protocol_store_context_set_signed_pre_key_store(p->store, &spks));
    CHECK_OK(signal_protocol_store_context_set_identity_key_store(p->store, &ids));
    CHECK_OK(signal_protocol_key_helper_generate_identity_key_pair(&p->ikp, ctx));
    CHECK_OK(signal_protocol_key_helper_generate_registration_id(&p->m->reg, 0, ctx));
    CHECK_OK(ec_public_key_serialize(&p->m->id_pub, ratchet_identity_key_pair_get_public(p->ikp)));
    CHECK_OK(
        ec_private_key_serialize(&p->m->id_priv, ratchet_identity_key_pair_get_private(p->ikp)));
    signal_protocol_key_helper_pre_key_list_node *head = NULL;
    session_signed_pre_key *spk = NULL;
    CHECK_OK(signal_protocol_key_helper_generate_pre_keys(&head, prekey_id, 1, ctx));
    session_pre_key *pk = signal_protocol_key_helper_key_list_element(head);
    CHECK_OK(signal_protocol_pre_key_store_key(p->store, pk));
    CHECK_OK(signal_protocol_key_helper_generate_signed_pre_key(&spk, p->ikp, 7, 0, ctx));
    CHECK_OK(signal_protocol_signed_pre_key_store_key(p->store, spk));
    CHECK_OK(session_pre_key_bundle_create(
        &p->bundle, p->m->reg, 1, session_pre_key_get_id(pk),
        ec_key_pair_get_public(session_pre_key_get_key_pair(pk)), 7,
        ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)),
        session_signed_pre_key_get_signature(spk), session_signed_pre_key_get_signature_len(spk),
        ratchet_identity_key_pair_get_public(p->ikp)));
    signal_protocol_key_helper_key_list_free(head);
    SIGNAL_UNREF(spk);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->addr.name = p->name;
    p->addr.name_len = strlen(p->name);
    p->addr.device_id = 1;
}

/* The libsignal objects are not freed: this is a one-shot benchmark. */

static ciphertext_message *raw_encrypt(struct party *from, struct party *to, const uint8_t *msg,
                                       size_t len)
{
    session_cipher *c = NULL;
    ciphertext_message *ct = NULL;
    CHECK_OK(session_cipher_create(&c, from->store, &to->addr, signal_ctx_get(from->sig)));
    CHECK_OK(session_cipher_encrypt(c, msg, len, &ct));
    session_cipher_free(c);
    return ct;
}

static void raw_decrypt(struct party *at, struct party *from, ciphertext_message *ct)
{
    session_cipher *c = NULL;
    signal_buffer *pt = NULL;
    signal_context *ctx = signal_ctx_get(at->sig);
    signal_buffer *ser = ciphertext_message_get_serialized(ct);
    CHECK_OK(session_cipher_create(&c, at->store, &from->addr, ctx));
    if (ciphertext_message_get_type(ct) == CIPHERTEXT_PREKEY_TYPE) {
        pre_key_signal_message *pm = NULL;
        CHECK_OK(pre_key_signal_message_deserialize(&pm, signal_buffer_data(ser),
                                                    signal_buffer_len(ser), ctx));
        CHECK_OK(session_cipher_decrypt_pre_key_signal_message(c, pm, NULL, &pt));
        SIGNAL_UNREF(pm);
    } else {
        signal_message *sm = NULL;
        CHECK_OK(
            signal_message_deserialize(&sm, signal_buffer_data(ser), signal_buffer_len(ser), ctx));
        CHECK_OK(session_cipher_decrypt_signal_message(c, sm, NULL, &pt));
        SIGNAL_UNREF(sm);
    }
    signal_buffer_bzero_free(pt);
    session_cipher_free(c);
}

struct baseline {
    double setup_per_s, enc_per_s, dec_per_s;
    double enc_seal_per_s, unseal_dec_per_s; /* the SDK's crypto pipeline, no disk, no network */
};

/* Decrypt serialised Signal message bytes of the given type (in memory). */
static void raw_decrypt_bytes(struct party *at, struct party *from, uint32_t type,
                              const uint8_t *p, size_t len)
{
    session_cipher *c = NULL;
    signal_buffer *pt = NULL;
    signal_context *ctx = signal_ctx_get(at->sig);
    CHECK_OK(session_cipher_create(&c, at->store, &from->addr, ctx));
    if (type == CIPHERTEXT_PREKEY_TYPE) {
        pre_key_signal_message *pm = NULL;
        CHECK_OK(pre_key_signal_message_deserialize(&pm, p, len, ctx));
        CHECK_OK(session_cipher_decrypt_pre_key_signal_message(c, pm, NULL, &pt));
        SIGNAL_UNREF(pm);
    } else {
        signal_message *sm = NULL;
        CHECK_OK(signal_message_deserialize(&sm, p, len, ctx));
        CHECK_OK(session_cipher_decrypt_signal_message(c, sm, NULL, &pt));
        SIGNAL_UNREF(sm);
    }
    signal_buffer_bzero_free(pt);
    session_cipher_free(c);
}

/* encrypt + seal, then unseal + decrypt, n messages alice -> bob, in memory:
 * the per-message crypto the SDK does, without SQLite and HTTP. */
static void run_sealed_baseline(struct baseline *b, struct party *alice, struct party *bob,
                                unsigned n, const uint8_t *msg, size_t len)
{
    struct buf *env = calloc(n, sizeof *env);
    const uint8_t *bob_pub = signal_buffer_data(bob->m->id_pub);
    const uint8_t *bob_priv = signal_buffer_data(bob->m->id_priv);
    struct wire_sealed_content inner = {.sender_device = 1};
    if (env == NULL)
        DIE("oom");
    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        ciphertext_message *ct = raw_encrypt(alice, bob, msg, len);
        signal_buffer *ser = ciphertext_message_get_serialized(ct);
        inner.type = (uint32_t)ciphertext_message_get_type(ct);
        inner.ciphertext = signal_buffer_data(ser);
        inner.ciphertext_len = signal_buffer_len(ser);
        buf_init(&env[i], SP_HARD_MAX_ENVELOPE_BYTES);
        CHECK_OK(seal_envelope(&env[i], bob_pub, &inner));
        SIGNAL_UNREF(ct);
    }
    b->enc_seal_per_s = n / (now_s() - t0);
    struct seal_identity *bob_id = NULL;
    CHECK_OK(seal_identity_new(&bob_id, bob_pub, bob_priv));
    t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        struct wire_sealed_content got;
        CHECK_OK(unseal_envelope_with(&got, bob_id, env[i].data, env[i].len));
        raw_decrypt_bytes(bob, alice, got.type, got.ciphertext, got.ciphertext_len);
        wire_sealed_content_free(&got);
    }
    b->unseal_dec_per_s = n / (now_s() - t0);
    seal_identity_free(bob_id);
    for (unsigned i = 0; i < n; i++)
        buf_free(&env[i]);
    free(env);
}

static struct baseline run_baseline(unsigned peers, unsigned n, const uint8_t *msg, size_t len)
{
    struct baseline b;
    struct party alice, *bobs = calloc(peers, sizeof *bobs);
    ciphertext_message **cts = calloc(n, sizeof *cts);
    if (bobs == NULL || cts == NULL)
        DIE("oom");
    party_new(&alice, "alice", 1);
    for (unsigned i = 0; i < peers; i++) {
        char name[32];
        snprintf(name, sizeof name, "bob%u", i);
        party_new(&bobs[i], name, 100 + i);
    }
    /* setup: process the bundle + encrypt the first message (initiator) */
    double t0 = now_s();
    for (unsigned i = 0; i < peers; i++) {
        session_builder *sb = NULL;
        CHECK_OK(session_builder_create(&sb, alice.store, &bobs[i].addr,
                                        signal_ctx_get(alice.sig)));
        CHECK_OK(session_builder_process_pre_key_bundle(sb, bobs[i].bundle));
        session_builder_free(sb);
        cts[i] = raw_encrypt(&alice, &bobs[i], msg, len);
    }
    b.setup_per_s = peers / (now_s() - t0);
    raw_decrypt(&bobs[0], &alice, cts[0]);
    for (unsigned i = 0; i < peers; i++)
        SIGNAL_UNREF(cts[i]);
    /* Bob answers so Alice's messages are normal Signal messages */
    ciphertext_message *r = raw_encrypt(&bobs[0], &alice, msg, len);
    raw_decrypt(&alice, &bobs[0], r);
    SIGNAL_UNREF(r);
    t0 = now_s();
    for (unsigned i = 0; i < n; i++)
        cts[i] = raw_encrypt(&alice, &bobs[0], msg, len);
    b.enc_per_s = n / (now_s() - t0);
    t0 = now_s();
    for (unsigned i = 0; i < n; i++)
        raw_decrypt(&bobs[0], &alice, cts[i]);
    b.dec_per_s = n / (now_s() - t0);
    for (unsigned i = 0; i < n; i++)
        SIGNAL_UNREF(cts[i]);
    run_sealed_baseline(&b, &alice, &bobs[0], n, msg, len);
    free(cts);
    return b;
}

/* ------------------------------------------------------------------ main */

static const char *fs_name(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return "?";
    switch ((unsigned long)sf.f_type) {
    case 0xEF53: return "ext2/3/4";
    case 0x01021994: return "tmpfs (fsync is free: not durable-disk numbers)";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

int main(int argc, char **argv)
{
    unsigned peers = 50, n = 1000, size = 256;
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    int ch;
    while ((ch = getopt(argc, argv, "p:n:s:d:h")) != -1) {
        switch (ch) {
        case 'p': peers = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': size = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': base = optarg; break;
        default:
            fprintf(stderr, "usage: sdk_bench [-p peers=50] [-n messages=1000] [-s bytes=256] "
                            "[-d tmpdir]\n");
            return ch == 'h' ? 0 : 64;
        }
    }
    if (peers < 1 || peers > 200 || n < 1 || n > 20000 || size < 1 || size > 60000)
        DIE("out of range: peers 1..200, messages 1..20000, size 1..60000");
    if (n > 4900)
        DIE("messages must be <= 4900 (relay mailbox quota in this run is 10000)");

    char dir[600];
    snprintf(dir, sizeof dir, "%s/sdk-bench-XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        DIE("mkdtemp %s: %s", dir, strerror(errno));
    char cert[700], key[700], db[700], conf[700], logp[700], url[64];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(db, sizeof db, "%s/relay.db", dir);
    snprintf(conf, sizeof conf, "%s/relay.conf", dir);
    snprintf(logp, sizeof logp, "%s/relay.log", dir);
    FILE *f = fopen(conf, "w");
    if (f == NULL || rp_make_cert(dir) != 0)
        DIE("cannot prepare %s", dir);
    fprintf(f, "[limits]\nauth_rate_per_minute = 1000000\nmailbox_max_messages = 10000\n"
               "[database]\nsync = full\n");
    fclose(f);
    uint16_t port = rp_free_port();
    pid_t relay = 0;
    if (port == 0 || rp_spawn(&relay, SEALPOSTD_PATH, port, cert, key, db, conf, logp, 30000) != 0)
        DIE("cannot start %s", SEALPOSTD_PATH);
    snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)port);
    g_url = url;
    g_cert = cert;

    uint8_t *msg = malloc(size);
    if (msg == NULL)
        DIE("oom");
    memset(msg, 'm', size);

    struct agent alice, *p = calloc(peers + 1, sizeof *p);
    if (p == NULL)
        DIE("oom");
    agent_new(&alice, dir, "alice");
    for (unsigned i = 0; i <= peers; i++) {
        char name[32];
        snprintf(name, sizeof name, "peer%u", i);
        agent_new(&p[i], dir, name);
    }
    struct agent *bob = &p[peers]; /* the steady-state peer */

    /* 1. session setups */
    int q = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < peers; i++) {
        CHECK_OK(sealpost_send(alice.c, p[i].addr, msg, size, &q, NULL));
        if (q)
            DIE("setup send queued");
    }
    double setup_s = now_s() - t0;
    t0 = now_s();
    for (unsigned i = 0; i < peers; i++) {
        sealpost_sync_stats st;
        CHECK_OK(sealpost_sync(p[i].c, 0, &st));
        if (st.received != 1)
            DIE("peer %u received %zu", i, st.received);
    }
    double accept_s = now_s() - t0;

    /* establish Alice <-> Bob both ways (Alice's next messages: normal) */
    CHECK_OK(sealpost_send(alice.c, bob->addr, msg, size, &q, NULL));
    sealpost_sync_stats st;
    CHECK_OK(sealpost_sync(bob->c, 0, &st));
    CHECK_OK(sealpost_send(bob->c, alice.addr, msg, size, &q, NULL));
    CHECK_OK(sealpost_sync(alice.c, 0, &st));

    /* 2a. sealpost_send, one upload each */
    t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        CHECK_OK(sealpost_send(alice.c, bob->addr, msg, size, &q, NULL));
        if (q)
            DIE("send queued");
    }
    double send_s = now_s() - t0;
    /* 2b. local half only, then one batched upload */
    struct session *as = sdk_session(alice.c);
    t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        uint8_t mid[SP_MESSAGE_ID_LEN];
        CHECK_OK(sp_random(mid, sizeof mid));
        CHECK_OK(session_send_local(as, bob->addr, NULL, msg, size, mid, 0));
    }
    double local_s = now_s() - t0;
    t0 = now_s();
    CHECK_OK(sealpost_sync(alice.c, 0, &st));
    double upload_s = now_s() - t0;
    if (st.uploaded != n)
        DIE("uploaded %zu of %u", st.uploaded, n);

    /* 3. Bob syncs everything */
    t0 = now_s();
    CHECK_OK(sealpost_sync(bob->c, 0, &st));
    double sync_s = now_s() - t0;
    if (st.received != 2u * n || st.dropped != 0)
        DIE("bob received %zu dropped %zu, want %u", st.received, st.dropped, 2 * n);

    /* 4. baseline */
    struct baseline b = run_baseline(peers, 2 * n, msg, size);

    struct utsname un;
    uname(&un);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("sdk_bench: libsealpost %s against sealpostd on 127.0.0.1 over TLS (keep-alive), "
           "one thread\n",
           sealpost_version());
    printf("conditions: %s %s, %ld CPUs; state + relay db in %s (%s); relay db sync=full, "
           "SDK state synchronous=FULL (WAL); message %u bytes; %u peers; N=%u\n",
           un.sysname, un.release, cpus, dir, fs_name(dir), size, peers, n);
    printf("%-58s %10s %12s\n", "phase", "ops", "per second");
    double setup_rate = peers / setup_s, send_rate = n / send_s, local_rate = n / local_s;
    double sync_rate = 2.0 * n / sync_s;
    printf("%-58s %10u %12.0f\n", "session setup, initiator (sealpost_send, first message)",
           peers, setup_rate);
    printf("%-58s %10u %12.0f\n", "session setup, responder (sealpost_sync of prekey msg)", peers,
           peers / accept_s);
    printf("%-58s %10u %12.0f\n", "send: sealpost_send (encrypt+seal+outbox+1 POST each)", n,
           send_rate);
    printf("%-58s %10u %12.0f\n", "send: local half (encrypt+seal+outbox commit)", n, local_rate);
    printf("%-58s %10u %12.0f\n", "send: batched upload of those (sealpost_sync)", n,
           n / upload_s);
    printf("%-58s %10u %12.0f\n", "sync: fetch+unseal+decrypt+inbox+ack (sealpost_sync)", 2 * n,
           sync_rate);
    printf("%-58s %10u %12.0f\n", "baseline: libsignal bundle+first encrypt (in memory)", peers,
           b.setup_per_s);
    printf("%-58s %10u %12.0f\n", "baseline: libsignal encrypt (in memory)", 2 * n, b.enc_per_s);
    printf("%-58s %10u %12.0f\n", "baseline: libsignal decrypt (in memory)", 2 * n, b.dec_per_s);
    printf("%-58s %10u %12.0f\n", "baseline: libsignal encrypt + seal (in memory)", 2 * n,
           b.enc_seal_per_s);
    printf("%-58s %10u %12.0f\n", "baseline: unseal + libsignal decrypt (in memory)", 2 * n,
           b.unseal_dec_per_s);
    printf("ratios (SDK / raw libsignal): setup %.3f, send %.4f (local half %.4f), sync %.4f\n",
           setup_rate / b.setup_per_s, send_rate / b.enc_per_s, local_rate / b.enc_per_s,
           sync_rate / b.dec_per_s);
    printf("ratios (SDK / same crypto in memory): send local half %.3f, "
           "batched upload %.3f, sync %.3f\n",
           local_rate / b.enc_seal_per_s, (n / upload_s) / b.enc_seal_per_s,
           sync_rate / b.unseal_dec_per_s);

    sealpost_close(alice.c);
    for (unsigned i = 0; i <= peers; i++)
        sealpost_close(p[i].c);
    free(p);
    free(msg);
    int ws = rp_stop(relay, 30000);
    if (ws != 0)
        fprintf(stderr, "sdk_bench: relay exit status %d (log in %s)\n", ws, logp);
    if (getenv("SEALPOST_KEEP_STATE") == NULL) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "sdk_bench: could not remove %s\n", dir);
    }
    return 0;
}
