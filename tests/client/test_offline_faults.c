/*
 * test_offline_faults.c: crashes, lying relays and hostile envelopes.
 *
 * Level of each test (E2E = real sealpostd over TLS + SDK public API;
 * PROXY = E2E through offline_proxy.c, a TLS man-in-the-middle on loopback;
 * INTERNAL = session_receive / session_send_local on a real SDK handle's
 * state, no network in the step under test):
 *
 *   kill_between_commit_and_ack   PROXY  `sealpost sync` (the CLI, a real
 *                                        process) SIGKILLed while its ack is
 *                                        held by the proxy, i.e. after the
 *                                        inbox commit, before the relay
 *                                        deleted anything; restart: nothing
 *                                        lost, nothing shown twice
 *   identity_swap_proxy           PROXY  the bundle's identity key (+ a
 *                                        consistently signed prekey) swapped:
 *                                        IDENTITY_MISMATCH, nothing sent,
 *                                        nothing stored; also for a message
 *                                        queued offline and finished by sync
 *   identity_swap_internal        INTERNAL  same check at session level,
 *                                        plus a forged signed-prekey signature
 *   tampered_and_wrong_recipient  E2E    outer byte flips and an envelope
 *                                        sealed to someone else, posted into
 *                                        Bob's mailbox: dropped, state intact
 *   forged_signal_message_state   E2E    a re-sealed Signal message with a
 *                                        bad MAC claiming Alice as sender:
 *                                        must not change Bob's session state
 *   forged_signal_message_then_genuine E2E  ... and Alice's next genuine
 *                                        message must still be delivered
 *   malformed_envelopes_internal  INTERNAL + E2E  unknown versions,
 *                                        truncations, every single-byte
 *                                        flip, wrong recipient: dropped
 *                                        without touching state (the relay
 *                                        refuses the unframeable ones itself)
 *   seal_key_nonce_unique_e2e     E2E    64 identical messages: 64 distinct
 *                                        ephemeral keys and (key, nonce)
 *                                        pairs, all delivered. The unit-level
 *                                        proof is tests/client/test_seal.c
 *                                        no_key_nonce_reuse.
 *
 * "State intact" = state_digest() (every table except `seen` and
 * `settings`) is unchanged; `seen` may gain exactly the dropped ids (the SDK
 * records processed relay ids so a redelivery is recognised).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/sdk_internal.h"
#include "client/seal.h"
#include "client/session.h"
#include "common/crypto.h"
#include "common/secmem.h"
#include "offline_fixture.h"
#include "offline_proxy.h"
#include "testutil.h"

#ifndef SEALPOST_CLI_PATH
#error "SEALPOST_CLI_PATH must be defined by tests/client/CMakeLists.txt"
#endif

static struct relay g_relay;
static struct oproxy *g_proxy;

static void relay_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE);
    char *key = of_key_path();
    ck_assert_int_eq(oproxy_start(&g_proxy, g_relay.port, rh_cert_path(), key), 0);
    free(key);
}

static void relay_teardown(void)
{
    oproxy_stop(g_proxy);
    g_proxy = NULL;
    if (g_relay.pid != 0)
        rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

static void text_of(char *out, size_t cap, const char *tag, int i)
{
    snprintf(out, cap, "%s %03d", tag, i);
}

static void expect_inbox_exactly(struct agent *bob, const struct agent *from, const char *tag,
                                 int n)
{
    struct inbox_snap s;
    inbox_snap(bob, &s);
    ck_assert_uint_eq(s.n, (size_t)n);
    for (int i = 0; i < n; i++) {
        char want[64];
        text_of(want, sizeof want, tag, i);
        ck_assert_msg(s.v[i]->body_len == strlen(want) &&
                          memcmp(s.v[i]->body, want, strlen(want)) == 0,
                      "inbox[%d] is not '%s'", i, want);
        ck_assert_str_eq(s.v[i]->sender, from->addr);
    }
    inbox_snap_free(&s);
}

/* Alice and Bob with a two-way session (Alice's next messages are normal
 * Signal messages, not prekey messages). */
static void pair_up(struct agent *alice, struct agent *bob, const char *url)
{
    agent_new(bob, "bob", url, 0, -1);
    agent_new(alice, "alice", url, 0, -1);
    agent_send(alice, bob, "hello 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(bob).received, 1);
    agent_send(bob, alice, "hi 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(alice).received, 1);
}

/* One envelope from Alice's outbox, sent with the relay down. The row stays
 * in her outbox (she uploads it on her next sync). */
static void capture_one(struct agent *alice, struct agent *bob, const char *text,
                        struct ks_outbox_item **items)
{
    rh_stop(&g_relay);
    agent_send(alice, bob, text, 1, NULL);
    ck_assert_uint_eq(outbox_copy(alice, items), 1);
    rh_restart(&g_relay);
}

static void identity_of(struct agent *a, uint8_t pub[SP_PUBKEY_LEN], uint8_t priv[32])
{
    uint32_t reg = 0;
    ck_assert_int_eq(keystore_identity_get(sdk_keystore(a->c), pub, priv, &reg), SP_OK);
}

/* ------------------------------------------------------------------ crash */

static pid_t spawn_cli(const char *dir, const char *cmd)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(SEALPOST_CLI_PATH, "sealpost", "-d", dir, cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

START_TEST(kill_between_commit_and_ack)
{
    enum { N = 10 };
    struct agent alice, bob;
    char text[64];
    int status = 0;

    /* Bob talks to the relay through the proxy; Alice directly */
    agent_new(&bob, "bob", oproxy_url(g_proxy), 0, -1);
    agent_close(&bob);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    for (int i = 0; i < N; i++) {
        text_of(text, sizeof text, "crash", i);
        agent_send(&alice, &bob, text, 0, NULL);
    }

    oproxy_set_mode(g_proxy, OPROXY_STALL_ACK);
    pid_t pid = spawn_cli(bob.dir, "sync");
    uint64_t t0 = rp_now_ms();
    while (oproxy_count(g_proxy, OPC_ACKS_STALLED) == 0) {
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0,
                      "sealpost sync exited (status %d) before acking", status);
        ck_assert_msg(rp_now_ms() - t0 < 60000, "no ack within 60 s");
        usleep(10 * 1000);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_ACKS), 0); /* the relay deleted nothing */
    /* the kill landed after the commit: the messages are on Bob's disk */
    ck_assert_uint_eq(state_rows(bob.dir, "inbox"), N);

    /* Bob restarts; the relay redelivers all N; none is shown twice */
    oproxy_set_mode(g_proxy, OPROXY_PASS);
    agent_reopen(&bob);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 0);
    ck_assert_uint_eq(st.dropped, N);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_ACKS), 1);
    expect_inbox_exactly(&bob, &alice, "crash", N);
    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received + st.dropped, 0); /* relay mailbox empty now */
    expect_inbox_exactly(&bob, &alice, "crash", N);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

/* ---------------------------------------------------------- identity swap */

START_TEST(identity_swap_proxy)
{
    struct agent alice, bob;
    struct rc_identity mallory;
    uint8_t before[32], after[32];

    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_new(&alice, "alice", oproxy_url(g_proxy), 0, -1);
    ck_assert_int_eq(rc_identity_new(&mallory), 0);
    /* a consistent forgery: Mallory's key and a prekey Mallory really signed */
    oproxy_set_fake_bundle(g_proxy, mallory.identity_key, &mallory.spk);
    oproxy_set_mode(g_proxy, OPROXY_SWAP_BUNDLE);

    state_digest(alice.dir, before);
    int queued = -7;
    sealpost_status st = sealpost_send(alice.c, bob.addr, (const uint8_t *)"secret", 6, &queued,
                                       NULL);
    ck_assert_int_eq(st, SEALPOST_ERR_IDENTITY_MISMATCH);
    ck_assert_int_eq(queued, -7); /* out-parameter untouched on failure */
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_BUNDLES_SWAPPED), 1);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_SENDS), 0);
    state_digest(alice.dir, after);
    ck_assert_mem_eq(before, after, 32);
    sealpost_info ai;
    ck_assert_int_eq(sealpost_info_get(alice.c, 0, &ai), SEALPOST_OK);
    ck_assert_uint_eq(ai.outbox_queued, 0);
    ck_assert_uint_eq(ai.sessions, 0);

    /* queued while offline, finished by sync against the lying relay */
    rh_stop(&g_relay);
    agent_send(&alice, &bob, "later", 1, NULL);
    ck_assert_uint_eq(state_rows(alice.dir, "pending"), 1);
    rh_restart(&g_relay);
    sealpost_sync_stats ss = agent_sync(&alice);
    ck_assert_uint_eq(ss.failed, 1);
    ck_assert_uint_eq(ss.uploaded, 0);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_BUNDLES_SWAPPED), 2);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_SENDS), 0);
    ck_assert_uint_eq(state_rows(alice.dir, "pending"), 0);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);
    ck_assert_uint_eq(state_rows(alice.dir, "sessions"), 0);
    ck_assert_uint_eq(state_rows(alice.dir, "identities"), 0);
    ck_assert_uint_eq(agent_sync(&bob).received, 0);

    /* an honest relay again: delivery works and Bob gets exactly one */
    oproxy_set_mode(g_proxy, OPROXY_PASS);
    agent_send(&alice, &bob, "honest 000", 0, NULL);
    ck_assert_uint_eq(oproxy_count(g_proxy, OPC_SENDS), 1);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);
    expect_inbox_exactly(&bob, &alice, "honest", 1);
    rc_identity_free(&mallory);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(identity_swap_internal)
{
    struct agent alice, bob;
    struct rc_identity mallory;
    struct wire_bundle b;
    uint8_t before[32], after[32], mid[SP_MESSAGE_ID_LEN] = {1};

    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    ck_assert_int_eq(rc_identity_new(&mallory), 0);
    state_digest(alice.dir, before);

    /* Bob's genuine bundle with Mallory's identity and signed prekey */
    ck_assert_int_eq(session_local_bundle(sdk_session(bob.c), true, &b), SP_OK);
    struct wire_bundle forged = b;
    memcpy(forged.identity_key, mallory.identity_key, SP_PUBKEY_LEN);
    forged.signed_prekey = mallory.spk;
    ck_assert_int_eq(session_send_local(sdk_session(alice.c), bob.addr, &forged,
                                        (const uint8_t *)"x", 1, mid, 0),
                     SP_ERR_IDENTITY_MISMATCH);
    /* identity key alone swapped (signature then no longer matches either) */
    forged = b;
    memcpy(forged.identity_key, mallory.identity_key, SP_PUBKEY_LEN);
    ck_assert_int_eq(session_send_local(sdk_session(alice.c), bob.addr, &forged,
                                        (const uint8_t *)"x", 1, mid, 0),
                     SP_ERR_IDENTITY_MISMATCH);
    /* Bob's identity, but a signed prekey Bob never signed */
    forged = b;
    forged.signed_prekey = mallory.spk;
    ck_assert_int_eq(session_send_local(sdk_session(alice.c), bob.addr, &forged,
                                        (const uint8_t *)"x", 1, mid, 0),
                     SP_ERR_BAD_SIGNATURE);
    /* one flipped signature bit */
    forged = b;
    forged.signed_prekey.signature[5] ^= 0x10;
    ck_assert_int_eq(session_send_local(sdk_session(alice.c), bob.addr, &forged,
                                        (const uint8_t *)"x", 1, mid, 0),
                     SP_ERR_BAD_SIGNATURE);
    state_digest(alice.dir, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);

    /* the genuine bundle works */
    ck_assert_int_eq(session_send_local(sdk_session(alice.c), bob.addr, &b,
                                        (const uint8_t *)"x", 1, mid, 0),
                     SP_OK);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 1);
    rc_identity_free(&mallory);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

/* ------------------------------------------------------- hostile envelopes */

START_TEST(tampered_and_wrong_recipient)
{
    struct agent alice, bob, carol;
    struct courier k;
    struct ks_outbox_item *to_bob = NULL, *to_carol = NULL;
    uint8_t before[32], after[32], mid[SP_MESSAGE_ID_LEN];

    pair_up(&alice, &bob, g_relay.base_url);
    agent_new(&carol, "carol", g_relay.base_url, 0, -1);
    agent_send(&alice, &carol, "for carol", 0, NULL);
    courier_new(&k, &g_relay);
    capture_one(&alice, &bob, "genuine 000", &to_bob);
    ck_assert_int_eq(sealpost_info_get(alice.c, 0, &(sealpost_info){0}), SEALPOST_OK);
    rh_stop(&g_relay);
    agent_send(&alice, &carol, "carol 001", 1, NULL);
    size_t n = outbox_copy(&alice, &to_carol);
    ck_assert_uint_eq(n, 2);
    rh_restart(&g_relay);

    state_digest(bob.dir, before);
    size_t seen0 = state_rows(bob.dir, "seen");
    /* outer layer tampered at three places (ephemeral key, body, tag) */
    size_t pos[3] = {5, 60, to_bob[0].content_len - 3};
    for (int i = 0; i < 3; i++) {
        uint8_t *copy = malloc(to_bob[0].content_len);
        memcpy(copy, to_bob[0].content, to_bob[0].content_len);
        copy[pos[i]] ^= 0x01;
        ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
        ck_assert_int_eq(courier_post(&k, bob.raw, mid, copy, to_bob[0].content_len, NULL), 200);
        free(copy);
    }
    /* Alice's genuine envelope for Carol, dropped into Bob's mailbox */
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_eq(courier_post(&k, bob.raw, mid, to_carol[1].content, to_carol[1].content_len,
                                  NULL),
                     200);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 0);
    ck_assert_uint_eq(st.dropped, 4);
    state_digest(bob.dir, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(state_rows(bob.dir, "seen"), seen0 + 4);

    /* nothing was consumed: the genuine envelopes still work */
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 2);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);
    ck_assert_uint_eq(agent_sync(&carol).received, 2);
    keystore_outbox_free(to_bob, 1);
    keystore_outbox_free(to_carol, n);
    courier_free(&k);
    agent_free(&carol);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

/* A Signal message claiming Alice as sender whose MAC does not verify,
 * sealed to Bob (anyone can seal to Bob: his identity key is public). Built
 * from a genuine one so it parses; content = genuine with its MAC flipped. */
static void forge_bad_mac(struct agent *bob, const struct ks_outbox_item *genuine, struct buf *out)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    struct wire_sealed_content inner;
    identity_of(bob, pub, priv);
    ck_assert_int_eq(unseal_envelope(&inner, pub, priv, genuine->content, genuine->content_len),
                     SP_OK);
    sp_wipe(priv, sizeof priv);
    ck_assert_int_eq(inner.type, 2); /* a normal Signal message */
    inner.ciphertext[inner.ciphertext_len - 1] ^= 0x01; /* last MAC byte */
    buf_init(out, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_envelope(out, pub, &inner), SP_OK);
    wire_sealed_content_free(&inner);
}

START_TEST(forged_signal_message_state)
{
    struct agent alice, bob;
    struct courier k;
    struct ks_outbox_item *genuine = NULL;
    struct buf forged;
    uint8_t before[32], after[32], mid[SP_MESSAGE_ID_LEN];

    pair_up(&alice, &bob, g_relay.base_url);
    courier_new(&k, &g_relay);
    capture_one(&alice, &bob, "genuine 000", &genuine);
    forge_bad_mac(&bob, &genuine[0], &forged);
    state_digest(bob.dir, before);
    ck_assert_uint_eq(state_rows(bob.dir, "sessions"), 1);
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_eq(courier_post(&k, bob.raw, mid, forged.data, forged.len, NULL), 200);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 0);
    ck_assert_uint_eq(st.dropped, 1);
    /* unauthenticated input must not change authenticated state */
    ck_assert_msg(state_rows(bob.dir, "sessions") == 1,
                  "a forged envelope made Bob forget his session with Alice");
    state_digest(bob.dir, after);
    ck_assert_mem_eq(before, after, 32);
    buf_free(&forged);
    keystore_outbox_free(genuine, 1);
    courier_free(&k);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(forged_signal_message_then_genuine)
{
    struct agent alice, bob;
    struct courier k;
    struct ks_outbox_item *genuine = NULL;
    struct buf forged;
    uint8_t mid[SP_MESSAGE_ID_LEN];

    pair_up(&alice, &bob, g_relay.base_url);
    courier_new(&k, &g_relay);
    capture_one(&alice, &bob, "genuine 000", &genuine);
    forge_bad_mac(&bob, &genuine[0], &forged);
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_eq(courier_post(&k, bob.raw, mid, forged.data, forged.len, NULL), 200);
    (void)agent_sync(&bob); /* the forgery arrives first */
    ck_assert_uint_eq(agent_sync(&alice).uploaded, 1);
    agent_send(&alice, &bob, "genuine 001", 0, NULL);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_msg(st.received == 2, "Alice's genuine messages after a forgery: received %zu, "
                                    "dropped %zu (lost)",
                  st.received, st.dropped);
    buf_free(&forged);
    keystore_outbox_free(genuine, 1);
    courier_free(&k);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

/* Feed one envelope to Bob's receive path in its own transaction. */
static enum session_recv_result receive_raw(struct agent *bob, const uint8_t *content, size_t len)
{
    uint8_t mid[SP_MESSAGE_ID_LEN];
    enum session_recv_result r = (enum session_recv_result)99;
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_eq(keystore_begin(sdk_keystore(bob->c)), SP_OK);
    ck_assert_int_eq(session_receive(sdk_session(bob->c), mid, content, len, &r), SP_OK);
    ck_assert_int_eq(keystore_commit(sdk_keystore(bob->c)), SP_OK);
    return r;
}

START_TEST(malformed_envelopes_internal)
{
    struct agent alice, bob;
    struct courier k;
    struct rc_identity other;
    struct ks_outbox_item *g = NULL;
    uint8_t before[32], after[32], mid[SP_MESSAGE_ID_LEN];
    size_t cases = 0;

    pair_up(&alice, &bob, g_relay.base_url);
    courier_new(&k, &g_relay);
    ck_assert_int_eq(rc_identity_new(&other), 0);
    capture_one(&alice, &bob, "genuine 000", &g);
    const size_t len = g[0].content_len;
    uint8_t *c = malloc(len + 1);
    ck_assert_ptr_nonnull(c);
    state_digest(bob.dir, before);
    size_t seen0 = state_rows(bob.dir, "seen");

    /* unknown versions: never downgraded, never parsed further */
    static const uint8_t versions[] = {0x00, 0x02, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < sizeof versions; i++, cases++) {
        memcpy(c, g[0].content, len);
        c[0] = versions[i];
        ck_assert_int_eq(receive_raw(&bob, c, len), SESSION_RECV_DROPPED);
    }
    /* truncated / extended */
    static const size_t cut[] = {1, 16, 33, 48, 49, 305};
    memcpy(c, g[0].content, len);
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++, cases++)
        ck_assert_int_eq(receive_raw(&bob, c, len - cut[i]), SESSION_RECV_DROPPED);
    ck_assert_int_eq(receive_raw(&bob, c, 0), SESSION_RECV_DROPPED);
    cases++;
    c[len] = 0;
    ck_assert_int_eq(receive_raw(&bob, c, len + 1), SESSION_RECV_DROPPED);
    cases++;
    /* every single-byte flip */
    for (size_t i = 0; i < len; i++, cases++) {
        memcpy(c, g[0].content, len);
        c[i] ^= (uint8_t)(1u << (i % 8));
        ck_assert_msg(receive_raw(&bob, c, len) == SESSION_RECV_DROPPED, "flip at %zu accepted",
                      i);
    }
    /* wrong recipient: Alice's genuine inner sealed to somebody else */
    {
        uint8_t pub[SP_PUBKEY_LEN], priv[32];
        struct wire_sealed_content inner;
        struct buf out;
        identity_of(&bob, pub, priv);
        ck_assert_int_eq(unseal_envelope(&inner, pub, priv, g[0].content, len), SP_OK);
        sp_wipe(priv, sizeof priv);
        buf_init(&out, SP_HARD_MAX_ENVELOPE_BYTES);
        ck_assert_int_eq(seal_envelope(&out, other.identity_key, &inner), SP_OK);
        ck_assert_int_eq(receive_raw(&bob, out.data, out.len), SESSION_RECV_DROPPED);
        cases++;
        buf_free(&out);
        wire_sealed_content_free(&inner);
    }
    state_digest(bob.dir, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(state_rows(bob.dir, "seen"), seen0 + cases);

    /* the relay refuses what it can recognise as unframeable (E2E) */
    memcpy(c, g[0].content, len);
    c[0] = 0x02;
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_ne(courier_post(&k, bob.raw, mid, c, len, NULL), 200);
    c[0] = 0x01;
    ck_assert_int_eq(sp_random(mid, sizeof mid), SP_OK);
    ck_assert_int_ne(courier_post(&k, bob.raw, mid, c, len - 1, NULL), 200);
    ck_assert_uint_eq(agent_sync(&bob).dropped, 0);

    /* and the genuine envelope is still good afterwards */
    ck_assert_int_eq(receive_raw(&bob, g[0].content, len), SESSION_RECV_STORED);
    free(c);
    keystore_outbox_free(g, 1);
    rc_identity_free(&other);
    courier_free(&k);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(seal_key_nonce_unique_e2e)
{
    enum { N = 64 };
    struct agent alice, bob;
    struct ks_outbox_item *items = NULL;
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint8_t kn[N][SEAL_KEY_LEN + SEAL_NONCE_LEN], eph[N][SP_SEAL_EPHEMERAL_LEN];

    pair_up(&alice, &bob, g_relay.base_url);
    rh_stop(&g_relay);
    for (int i = 0; i < N; i++)
        agent_send(&alice, &bob, "same text", 1, NULL); /* identical plaintexts */
    ck_assert_uint_eq(outbox_copy(&alice, &items), N);
    identity_of(&bob, pub, priv);
    for (int i = 0; i < N; i++) {
        ck_assert_uint_ge(items[i].content_len, 1 + SP_SEAL_EPHEMERAL_LEN + 16);
        memcpy(eph[i], items[i].content + 1, SP_SEAL_EPHEMERAL_LEN);
        ck_assert_int_eq(seal_derive_keys(kn[i], kn[i] + SEAL_KEY_LEN, eph[i], pub, priv), SP_OK);
        for (int j = 0; j < i; j++) {
            ck_assert(memcmp(eph[i], eph[j], SP_SEAL_EPHEMERAL_LEN) != 0);
            ck_assert(memcmp(kn[i], kn[j], SEAL_KEY_LEN) != 0);
            ck_assert(memcmp(kn[i] + SEAL_KEY_LEN, kn[j] + SEAL_KEY_LEN, SEAL_NONCE_LEN) != 0);
        }
    }
    sp_wipe(priv, sizeof priv);
    sp_wipe(kn, sizeof kn);
    rh_restart(&g_relay);
    ck_assert_uint_eq(agent_sync(&alice).uploaded, N);
    ck_assert_uint_eq(agent_sync(&bob).received, N);
    struct inbox_snap s;
    inbox_snap(&bob, &s);
    ck_assert_uint_eq(inbox_count_body(&s, "same text"), N);
    inbox_snap_free(&s);
    keystore_outbox_free(items, N);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

static Suite *offline_faults_suite(void)
{
    Suite *s = suite_create("offline_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, relay_setup, relay_teardown);
    tcase_add_test(tc, kill_between_commit_and_ack);
    tcase_add_test(tc, identity_swap_proxy);
    tcase_add_test(tc, identity_swap_internal);
    tcase_add_test(tc, tampered_and_wrong_recipient);
    tcase_add_test(tc, forged_signal_message_state);
    tcase_add_test(tc, forged_signal_message_then_genuine);
    tcase_add_test(tc, malformed_envelopes_internal);
    tcase_add_test(tc, seal_key_nonce_unique_e2e);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    of_global_init();
    int rc = tu_run(offline_faults_suite());
    of_global_cleanup();
    return rc;
}
